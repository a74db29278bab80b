/** `sockit tftp get` and `put`: --json, -q, -v and --log-level debug, as a script or a person reads them. */
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExitStatus } from '../../src/cli/exit-status.js';
import type { TransferReport } from '../../src/cli/tftp-client.js';
import { decodePacket, encodeData, Opcode } from '../../src/tftp/packet.js';
import { requireTools, type Server, sockit, startServer } from '../helpers.js';
import { jsonLines } from '../log.js';

describe('sockit tftp output', () => {
  let root: string;
  let work: string;
  let server: Server;
  let target: string;
  const data = randomBytes(100_000);

  beforeAll(async () => {
    requireTools();
    root = mkdtempSync(path.join(os.tmpdir(), 'sockit-tftp-out-'));
    work = mkdtempSync(path.join(os.tmpdir(), 'sockit-tftp-out-work-'));
    writeFileSync(path.join(root, 'image.bin'), data);
    server = await startServer(
      [
        '--log-level',
        'debug',
        'tftp',
        'serve',
        '--root',
        root,
        '--host',
        '127.0.0.1',
        '--port',
        '0',
        '--writable',
      ],
      1,
    );
    target = `127.0.0.1:${server.listening[0]?.port}`;
  });
  afterAll(async () => {
    expect(await server.stop()).toBe(0);
    rmSync(root, { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  });

  const requests = (): Record<string, unknown>[] =>
    jsonLines(server.log()).filter((e) => e.msg === 'request');

  it('--json prints one object with the facts on stdout, and no summary', async () => {
    const dest = path.join(work, 'json.bin');
    const r = await sockit(['tftp', 'get', target, 'image.bin', dest, '-b', '1428', '-w', '4', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    const out = r.stdout.toString();
    expect(out.endsWith('\n')).toBe(true);
    expect(out.trimEnd().split('\n')).toHaveLength(1);
    const report = JSON.parse(out) as TransferReport;
    expect(report).toMatchObject({
      op: 'get',
      server: target,
      file: 'image.bin',
      local: dest,
      bytes: 100_000,
      blocks: 71,
      retransmits: 0,
      blksize: 1428,
      windowsize: 4,
      timeout: null,
      tsize: 100_000,
    });
    expect(report.seconds).toBeGreaterThan(0);
    expect(report.bytesPerSecond).toBeGreaterThan(0);
    expect(readFileSync(dest).equals(data)).toBe(true);
  });

  it('--json on an upload from stdin: local "-", the negotiated timeout in seconds, no size known', async () => {
    const upload = randomBytes(5000);
    const r = await sockit(['tftp', 'put', target, '-', 'up.bin', '--timeout', '3', '--json'], {
      input: upload,
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout.toString())).toMatchObject({
      op: 'put',
      server: target,
      file: 'up.bin',
      local: '-',
      bytes: 5000,
      blocks: 10,
      blksize: 512,
      windowsize: 1,
      timeout: 3,
      tsize: null,
    });
    expect(readFileSync(path.join(root, 'up.bin')).equals(upload)).toBe(true);
  });

  it('--json prints nothing on stdout when the transfer fails', async () => {
    const r = await sockit(['tftp', 'get', target, 'missing.bin', path.join(work, 'm.bin'), '--json']);
    // TFTP error 1 is "not found".
    expect(r.code).toBe(ExitStatus.NOT_FOUND);
    expect(r.stdout.toString()).toBe('');
    expect(r.stderr).toBe('sockit: TFTP error 1 (file not found) [ERR_TFTP_REMOTE]\n');
  });

  it('refuses --json with LOCAL "-", where stdout is the file, before asking the server', async () => {
    const before = requests().length;
    const r = await sockit(['tftp', 'get', target, 'image.bin', '-', '--json']);
    expect(r.code).toBe(2);
    expect(r.stdout.toString()).toBe('');
    expect(r.stderr).toMatch(/^sockit: --json does not go with LOCAL "-"[^\n]*\[ERR_USAGE\]\n$/);
    expect(requests().length).toBe(before);
  });

  it('-q prints nothing on success, to a file and to stdout', async () => {
    const dest = path.join(work, 'quiet.bin');
    const r = await sockit(['tftp', 'get', target, 'image.bin', dest, '-q']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout.toString()).toBe('');
    expect(readFileSync(dest).equals(data)).toBe(true);
    const s = await sockit(['tftp', 'get', target, 'image.bin', '-', '--quiet']);
    expect(s.code, s.stderr).toBe(0);
    expect(s.stderr).toBe('');
    expect(s.stdout.equals(data)).toBe(true);
  });

  it('-q still reports a failure', async () => {
    const r = await sockit(['tftp', 'get', target, 'missing.bin', path.join(work, 'missing.bin'), '-q']);
    expect(r.code).toBe(ExitStatus.NOT_FOUND);
    expect(r.stderr).toBe('sockit: TFTP error 1 (file not found) [ERR_TFTP_REMOTE]\n');
  });

  it('-v prints each step on stderr as plain lines, then the summary', async () => {
    const dest = path.join(work, 'verbose.bin');
    const r = await sockit(['tftp', 'get', target, 'image.bin', dest, '-v', '-b', '1000']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.toString()).toBe('');
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines[0]).toMatch(
      new RegExp(
        `^tftp: request sent op=RRQ file=image\\.bin mode=octet server=${target} local=\\d+ asked=\\{"blksize":"1000","tsize":"0"\\}$`,
      ),
    );
    expect(lines[1]).toMatch(/^tftp: server answered from=127\.0\.0\.1:\d+$/);
    expect(lines[2]).toBe(
      'tftp: options negotiated asked={"blksize":"1000","tsize":"0"} granted={"blksize":"1000","tsize":"100000"}',
    );
    // (Retransmissions depend on the machine's load: the format is what is checked.)
    expect(lines[3]).toMatch(/^tftp: transfer complete blocks=101 bytes=100000 retransmits=\d+ ms=\d+$/);
    expect(lines[4]).toMatch(/^tftp: complete: renamed from=\S+\.part to=\S+verbose\.bin$/);
    expect(lines[5]).toMatch(/^received image\.bin: 97\.7 KiB in /);
    expect(lines).toHaveLength(6);
  });

  it('-q and -v together are a usage error', async () => {
    const r = await sockit(['tftp', 'put', target, 'x', '-q', '-v']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /^sockit: option '-q, --quiet' cannot be used with option '-v, --verbose'.*\[ERR_USAGE\]\n$/,
    );
  });

  it('--log-level debug logs the negotiation at both ends, as JSON with --log-format json', async () => {
    const dest = path.join(work, 'debug.bin');
    const args = ['tftp', 'get', target, 'image.bin', dest, '-b', '1428'];
    const r = await sockit(['--log-level', 'debug', '--log-format', 'json', ...args]);
    expect(r.code, r.stderr).toBe(0);
    const client = jsonLines(r.stderr);
    const asked = { blksize: '1428', tsize: '0' };
    const granted = { blksize: '1428', tsize: '100000' };
    const sent = client.find((e) => e.msg === 'request sent');
    expect(sent).toMatchObject({ level: 20, op: 'RRQ', file: 'image.bin', server: target, asked });
    expect(client.find((e) => e.msg === 'options negotiated')).toMatchObject({ level: 20, asked, granted });
    // The server's lines name this client by the port its request came from.
    const from = `127.0.0.1:${sent?.local}`;
    const served = jsonLines(server.log()).filter((e) => e.client === from);
    expect(served.find((e) => e.msg === 'request')).toMatchObject({ level: 20, op: 'RRQ', asked });
    expect(served.find((e) => e.msg === 'options negotiated')).toMatchObject({ level: 20, asked, granted });
    expect(served.find((e) => e.msg === 'transfer')).toMatchObject({ level: 30, ok: true, bytes: 100_000 });

    // Without it, neither end writes a debug line.
    const quiet = await startServer(
      ['tftp', 'serve', '--root', root, '--host', '127.0.0.1', '--port', '0'],
      1,
    );
    try {
      const plain = ['tftp', 'get', `127.0.0.1:${quiet.listening[0]?.port}`, 'image.bin', `${dest}.2`];
      const s = await sockit(['--log-format', 'json', ...plain, '-b', '1428']);
      expect(s.code, s.stderr).toBe(0);
      expect(jsonLines(s.stderr)).toEqual([]);
      const logged = jsonLines(quiet.log());
      expect(logged.some((e) => e.msg === 'transfer')).toBe(true);
      expect(logged.filter((e) => (e.level as number) < 30)).toEqual([]);
    } finally {
      expect(await quiet.stop()).toBe(0);
    }
  });

  it('-v shows a timeout that sent the request again, and options the server ignored', async () => {
    // A server of RFC 1350 only, which misses the first request: it answers the second with
    // the whole (one-block) file and no OACK.
    const fake = dgram.createSocket('udp4');
    let seen = 0;
    fake.on('message', (msg, from) => {
      const d = decodePacket(msg);
      if (d.ok && d.packet.opcode === Opcode.RRQ && ++seen === 2) {
        fake.send(encodeData(1, Buffer.from('hello')), from.port, from.address);
      }
    });
    await new Promise<void>((resolve) => fake.bind(0, '127.0.0.1', resolve));
    const r = await sockit(['tftp', 'get', `127.0.0.1:${fake.address().port}`, 'x', '-', '-v']);
    fake.close();
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.toString()).toBe('hello');
    const lines = r.stderr.split('\n');
    expect(lines).toContain('tftp: timeout: sent again afterMs=1000 resent=1 retransmits=1');
    expect(lines).toContain(
      'tftp: no OACK: the server ignored the options; RFC 1350 defaults asked={"tsize":"0"}',
    );
    expect(lines.some((l) => /^received x: 5 B in .* 1 retransmit, blksize 512, windowsize 1$/.test(l))).toBe(
      true,
    );
  });
});
