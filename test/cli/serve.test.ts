/** `sockit serve`: every service, one start-up line each, with embedded defaults. */
import dgram from 'node:dgram';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { requireTools, run, sockit, startServer } from '../helpers.js';

/** A TCP port that was free a moment ago (for a service the test does not occupy). */
async function freeTcpPort(): Promise<number> {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as net.AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

/** True when something accepts TCP connections on 127.0.0.1:port. */
function tcpOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

function tempDataDir(): string {
  return path.join(mkdtempSync(path.join(os.tmpdir(), 'sockit-serve-')), 'data');
}

describe('sockit serve', () => {
  it('starts echo (TCP, UDP), TFTP, files and chat, says where each listens, serves, and stops on SIGTERM', async () => {
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
        '--chat-port',
        '0',
        '--irc-port',
        '0',
        '--http-port',
        '0',
      ],
      8,
    );
    try {
      expect(server.listening.map((l) => `${l.service}/${l.protocol}`).sort()).toEqual([
        'chat/tcp',
        'chat/udp',
        'echo/tcp',
        'echo/udp',
        'files/tcp',
        'irc/tcp',
        'status/tcp',
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
      // The chat, with the same accounts.
      const chatPort = server.listening.find((l) => l.service === 'chat')?.port ?? 0;
      const said = await sockit(
        ['chat', 'send', `127.0.0.1:${chatPort}`, 'lobby', 'hi', '--user', 'ann', '--json'],
        {
          env,
        },
      );
      expect(said.code, said.stderr).toBe(0);
      expect(JSON.parse(said.stdout.toString())).toMatchObject({ from: 'ann', account: 'ann', text: 'hi' });
    } finally {
      expect(await server.stop()).toBe(0);
      rmSync(path.dirname(data), { recursive: true, force: true });
    }
  });

  for (const taken of ['tftp', 'files', 'chat', 'irc', 'http'] as const) {
    it(`stops every service and exits 1 naming the port and --${taken}-port when the ${taken} port is taken`, async () => {
      const data = tempDataDir();
      let holder: dgram.Socket | net.Server;
      let port: number;
      if (taken === 'tftp') {
        const udp = dgram.createSocket('udp4');
        await new Promise<void>((resolve) => udp.bind(0, '127.0.0.1', resolve));
        port = udp.address().port;
        holder = udp;
      } else {
        const tcp = net.createServer();
        await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
        port = (tcp.address() as net.AddressInfo).port;
        holder = tcp;
      }
      const echoPort = await freeTcpPort();
      try {
        const ports = {
          tftp: taken === 'tftp' ? port : 0,
          files: taken === 'files' ? port : 0,
          chat: taken === 'chat' ? port : 0,
          irc: taken === 'irc' ? port : 0,
          http: taken === 'http' ? port : 0,
        };
        const result = await sockit(
          [
            '--log-format',
            'json',
            'serve',
            '--host',
            '127.0.0.1',
            '--data-dir',
            data,
            '--echo-port',
            String(echoPort),
            '--tftp-port',
            String(ports.tftp),
            '--files-port',
            String(ports.files),
            '--chat-port',
            String(ports.chat),
            '--irc-port',
            String(ports.irc),
            '--http-port',
            String(ports.http),
          ],
          { timeoutMs: 10_000 },
        );
        expect(result.signal, 'still running: a service kept it alive').toBeNull();
        expect(result.code).toBe(1);
        const errors = result.stderr
          .trim()
          .split('\n')
          .filter((l) => l.startsWith('sockit: '));
        expect(errors, result.stderr).toHaveLength(1);
        expect(errors[0]).toContain(`127.0.0.1:${port}`);
        expect(errors[0]).toContain(`--${taken}-port`);
        expect(errors[0]).toContain('[ERR_ADDRESS_IN_USE]');
        expect(result.stderr).not.toMatch(/\n\s+at /);
        // The echo service that had started is gone with the command.
        expect(await tcpOpen(echoPort)).toBe(false);
      } finally {
        holder.close();
        rmSync(path.dirname(data), { recursive: true, force: true });
      }
    });
  }

  it('listens on loopback only unless --host says otherwise, and warns when it does', async () => {
    const data = tempDataDir();
    const ports = [
      '--echo-port',
      '0',
      '--tftp-port',
      '0',
      '--files-port',
      '0',
      '--chat-port',
      '0',
      '--irc-port',
      '0',
      '--http-port',
      '0',
    ];
    const local = await startServer(['serve', '--data-dir', data, ...ports], 8);
    try {
      expect(local.listening.map((l) => l.address)).toEqual(Array(8).fill('127.0.0.1'));
      expect(local.log()).not.toContain('reachable from the network');
    } finally {
      expect(await local.stop()).toBe(0);
    }
    const open = await startServer(['serve', '--host', '0.0.0.0', '--data-dir', data, ...ports], 8);
    try {
      expect(open.listening.every((l) => l.address === '0.0.0.0')).toBe(true);
      const warning = open
        .log()
        .split('\n')
        .find((l) => l.includes('reachable from the network'));
      expect(JSON.parse(warning ?? '{}').level).toBe(40);
    } finally {
      expect(await open.stop()).toBe(0);
      rmSync(path.dirname(data), { recursive: true, force: true });
    }
  });
});
