/**
 * A private OpenSSH server for the benchmarks: scripts/interop-tools.sh's unpacked sshd, on a
 * free loopback port, with host and client keys generated into `dir` (ed25519), key log-in
 * only. As root it logs in as the system user sockit-bench (made by interop-tools.sh, shell
 * /bin/sh, so that no login shell's start-up files are timed as ssh's); otherwise as the
 * user running the bench.
 *
 * @example
 * const sshd = await startSshd(dir);
 * spawnSync('ssh', [...sshd.options, sshd.host, 'true']);
 * sshd.stop();
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, waitForPort } from './ports.mjs';

const root = path.resolve(import.meta.dirname, '../..');
export const SSHD = path.join(root, '.tools/interop/openssh-server/usr/sbin/sshd');
/** The server side of scp (which speaks SFTP since OpenSSH 9.0) and sftp. */
const SFTP_SERVER = path.join(root, '.tools/interop/openssh-sftp-server/usr/lib/openssh/sftp-server');

function must(file, args) {
  const r = spawnSync(file, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${file} ${args.join(' ')}: ${r.status} ${r.stderr}`);
  return r.stdout;
}

/**
 * Starts sshd with its files in `dir` (which must exist). Resolves with the user it logs in
 * as, `host` (USER@127.0.0.1), `port`, `options` for ssh (-p, -i, no host-key prompts; scp
 * and rsync's `-e` take them too) and `stop()`.
 */
export async function startSshd(dir) {
  for (const program of [SSHD, SFTP_SERVER])
    if (!existsSync(program)) throw new Error(`${program} is missing: run scripts/interop-tools.sh`);
  const benchUser = spawnSync('getent', ['passwd', 'sockit-bench'], { encoding: 'utf8' }).status === 0;
  const user = process.getuid?.() === 0 && benchUser ? 'sockit-bench' : os.userInfo().username;
  if (user !== 'sockit-bench')
    console.warn(`ssh logs in as ${user}: its shell's start-up files count in ssh's times`);
  must('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(dir, 'host_key')]);
  must('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path.join(dir, 'client_key')]);
  must('cp', [path.join(dir, 'client_key.pub'), path.join(dir, 'authorized_keys')]);
  // sshd reads the keys as the user who logs in.
  chmodSync(dir, 0o755);
  chmodSync(path.join(dir, 'authorized_keys'), 0o644);
  const port = await freePort();
  writeFileSync(
    path.join(dir, 'sshd_config'),
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${path.join(dir, 'host_key')}`,
      `AuthorizedKeysFile ${path.join(dir, 'authorized_keys')}`,
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'UsePAM no',
      'StrictModes no',
      'PermitRootLogin prohibit-password',
      `PidFile ${path.join(dir, 'sshd.pid')}`,
      `Subsystem sftp ${SFTP_SERVER}`,
      'LogLevel ERROR',
      '',
    ].join('\n'),
  );
  const child = spawn(SSHD, ['-D', '-f', path.join(dir, 'sshd_config'), '-E', path.join(dir, 'sshd.log')], {
    stdio: 'ignore',
  });
  await waitForPort(port);
  const options = [
    '-i',
    path.join(dir, 'client_key'),
    '-o',
    'StrictHostKeyChecking=no',
    '-o',
    'UserKnownHostsFile=/dev/null',
    '-o',
    'BatchMode=yes',
    '-o',
    'LogLevel=ERROR',
  ];
  return {
    user,
    host: `${user}@127.0.0.1`,
    port,
    /** For ssh (-p PORT ...); scp spells the port -P: use `scpOptions`. */
    options: ['-p', String(port), ...options],
    scpOptions: ['-P', String(port), ...options],
    stop: () => child.kill('SIGTERM'),
  };
}
