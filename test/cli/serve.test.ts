/** `sockit serve`: every service, one start-up line each, with embedded defaults. */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { requireTools, run, sockit, startServer } from '../helpers.js';

describe('sockit serve', () => {
  it('starts echo (TCP, UDP), TFTP and files, says where each listens, serves, and stops on SIGTERM', async () => {
    requireTools('nc');
    const data = path.join(mkdtempSync(path.join(os.tmpdir(), 'sockit-serve-')), 'data');
    const server = await startServer(
      [
        'serve',
        '--host',
        '127.0.0.1',
        '--data-dir',
        data,
        '--echo-port',
        '0',
        '--tftp-port',
        '0',
        '--files-port',
        '0',
      ],
      4,
    );
    try {
      expect(server.listening.map((l) => `${l.service}/${l.protocol}`).sort()).toEqual([
        'echo/tcp',
        'echo/udp',
        'files/tcp',
        'tftp/udp',
      ]);
      expect(existsSync(path.join(data, 'tftp'))).toBe(true);
      const echoPort = server.listening.find((l) => l.service === 'echo')?.port ?? 0;
      const echoed = await run('nc', ['-N', '127.0.0.1', String(echoPort)], { input: 'ping' });
      expect(echoed.stdout.toString()).toBe('ping');
      writeFileSync(path.join(data, 'tftp', 'boot.txt'), 'boot me');
      const tftpPort = server.listening.find((l) => l.service === 'tftp')?.port ?? 0;
      const got = await sockit(['tftp', 'get', `127.0.0.1:${tftpPort}`, 'boot.txt', '-']);
      expect(got.stdout.toString()).toBe('boot me');
      // Accounts in the embedded database, added while the server runs.
      const env = { ...process.env, SOCKIT_PASSWORD: 'serve test password' };
      const added = await sockit(['users', 'add', 'ann', '--data-dir', data, '--iterations', '4096'], {
        env,
      });
      expect(added.code, added.stderr).toBe(0);
      const filesPort = server.listening.find((l) => l.service === 'files')?.port ?? 0;
      writeFileSync(path.join(data, 'note.txt'), 'hello files');
      const up = await sockit(
        ['files', 'upload', `127.0.0.1:${filesPort}`, path.join(data, 'note.txt'), '--user', 'ann'],
        { env },
      );
      expect(up.code, up.stderr).toBe(0);
      expect(readFileSync(path.join(data, 'files', 'ann', 'note.txt'), 'utf8')).toBe('hello files');
    } finally {
      expect(await server.stop()).toBe(0);
      rmSync(path.dirname(data), { recursive: true, force: true });
    }
  });
});
