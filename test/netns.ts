/**
 * Two network namespaces joined by a veth pair, made by a test and deleted after it (with
 * those of earlier runs that were killed before their clean-up); optionally both ends drop
 * 10% of the UDP they send (nftables `numgen random mod 10 0 drop`). Nothing touches the
 * host's own network: the addresses live inside the namespaces only.
 *
 * Needs root, ip (iproute2) and nft (nftables): scripts/interop-tools.sh installs them.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { requireTools } from './helpers.js';

function sh(command: string, args: string[], input?: string): void {
  execFileSync(command, args, { input, stdio: ['pipe', 'ignore', 'pipe'], timeout: 10_000 });
}

export class TestNetwork {
  readonly nsA: string;
  readonly nsB: string;
  readonly vethA: string;
  readonly vethB: string;
  readonly ipA: string;
  readonly ipB: string;

  /**
   * `tag` names the namespaces (`sockit-TAG-PID-a`) and the veth ends (`VETH` + pid); the
   * addresses are `10.OCTET.(pid % 250).1` and `.2`, on a /`prefix`.
   */
  constructor(
    readonly tag: string,
    veth: string,
    octet: number,
    readonly prefix: number,
  ) {
    this.nsA = `sockit-${tag}-${process.pid}-a`;
    this.nsB = `sockit-${tag}-${process.pid}-b`;
    this.vethA = `${veth}${process.pid}a`.slice(-15);
    this.vethB = `${veth}${process.pid}b`.slice(-15);
    const net = `10.${octet}.${process.pid % 250}`;
    this.ipA = `${net}.1`;
    this.ipB = `${net}.2`;
  }

  /** Fails, saying what to do, without root, ip or nft. */
  static require(what: string): void {
    requireTools();
    if (process.getuid?.() !== 0) throw new Error(`${what} creates network namespaces: run it as root`);
    for (const tool of ['ip', 'nft']) {
      try {
        execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
      } catch {
        throw new Error(`${tool} is not installed; run scripts/interop-tools.sh (as root) to install it`);
      }
    }
  }

  create(): void {
    this.delete(); // leftovers of killed runs
    sh('ip', ['netns', 'add', this.nsA]);
    sh('ip', ['netns', 'add', this.nsB]);
    sh('ip', [
      'link',
      'add',
      this.vethA,
      'netns',
      this.nsA,
      'type',
      'veth',
      'peer',
      'name',
      this.vethB,
      'netns',
      this.nsB,
    ]);
    for (const [ns, veth, ip] of [
      [this.nsA, this.vethA, this.ipA],
      [this.nsB, this.vethB, this.ipB],
    ] as const) {
      sh('ip', ['-n', ns, 'addr', 'add', `${ip}/${this.prefix}`, 'dev', veth]);
      sh('ip', ['-n', ns, 'link', 'set', veth, 'up']);
      sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    }
  }

  /** Both ends drop 10% of the UDP they send. */
  addLoss(): void {
    for (const [ns, veth] of [
      [this.nsA, this.vethA],
      [this.nsB, this.vethB],
    ] as const) {
      const rules = `table inet sockit_loss {
        chain out {
          type filter hook output priority 0; policy accept;
          oifname "${veth}" meta l4proto udp numgen random mod 10 0 drop
        }
      }\n`;
      sh('ip', ['netns', 'exec', ns, 'nft', '-f', '-'], rules);
    }
  }

  removeLoss(): void {
    for (const ns of [this.nsA, this.nsB])
      sh('ip', ['netns', 'exec', ns, 'nft', 'delete', 'table', 'inet', 'sockit_loss']);
  }

  /** Deletes our namespaces, and those of earlier runs whose process is gone. */
  delete(): void {
    const names = execFileSync('ip', ['netns', 'list']).toString().split('\n');
    const pattern = new RegExp(`^(sockit-${this.tag}-(\\d+)-[ab])\\b`);
    const stale = names.flatMap((line) => {
      const m = pattern.exec(line);
      return m?.[1] && !existsSync(`/proc/${m[2]}`) ? [m[1]] : [];
    });
    for (const ns of [this.nsA, this.nsB, ...stale]) {
      try {
        sh('ip', ['netns', 'del', ns]); // takes its end of the veth with it
      } catch {
        // it was never made
      }
    }
  }
}
