/** User errors end in one clear line and a non-zero exit, never a stack trace. */
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { beforeAll, describe, expect, it } from 'vitest';
import { ExitStatus } from '../../src/cli/exit-status.js';
import { CLI, errorLine, requireTools, run, sockit } from '../helpers.js';

beforeAll(() => requireTools());

describe('sockit errors', () => {
  it('explains a refused bind of the privileged echo port and how to fix it', async () => {
    const unprivilegedStart = Number(readFileSync('/proc/sys/net/ipv4/ip_unprivileged_port_start', 'utf8'));
    expect(unprivilegedStart, 'this machine lets anyone bind port 7').toBeGreaterThan(7);
    // As root, drop to nobody: the bind of port 7 must then be refused.
    const asUser = process.getuid?.() === 0 ? ['runuser', '-u', 'nobody', '--'] : [];
    const [command, ...args] = [
      ...asUser,
      process.execPath,
      CLI,
      'echo',
      'serve',
      '--tcp',
      '--host',
      '127.0.0.1',
    ];
    const result = await run(command as string, args);
    expect(result.code).toBe(ExitStatus.AUTH);
    const line = errorLine(result.stderr);
    expect(line).toContain('[ERR_BIND_DENIED]');
    expect(line).toContain('127.0.0.1:7');
    expect(line).toContain('--port');
    expect(line).toContain('CAP_NET_BIND_SERVICE');
  });

  it('names a port that is already taken', async () => {
    const holder = net.createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const { port } = holder.address() as net.AddressInfo;
    const result = await sockit(['echo', 'serve', '--tcp', '--host', '127.0.0.1', '--port', String(port)]);
    holder.close();
    expect(result.code).toBe(ExitStatus.FAILURE);
    expect(errorLine(result.stderr)).toBe(
      `sockit: echo/tcp: 127.0.0.1:${port} is already in use; stop the other server or choose another port with --port [ERR_ADDRESS_IN_USE]`,
    );
  });

  it('reports a start-up failure once in cluster mode, not once per worker', async () => {
    const holder = net.createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const { port } = holder.address() as net.AddressInfo;
    const result = await sockit([
      'echo',
      'serve',
      '--tcp',
      '--model',
      'cluster',
      '--workers',
      '3',
      '--host',
      '127.0.0.1',
      '--port',
      String(port),
    ]);
    holder.close();
    expect(result.code).toBe(ExitStatus.FAILURE);
    expect(errorLine(result.stderr)).toContain('[ERR_ADDRESS_IN_USE]');
  });

  it('refuses a bad flag value before doing anything', async () => {
    const result = await sockit(['echo', 'serve', '--port', '70000']);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('expected a port from 0 to 65535');
    const model = await sockit(['echo', 'serve', '--model', 'threads']);
    expect(model.code).not.toBe(0);
    expect(model.stderr).toContain('event-loop');
  });

  it('asks for HOST PORT when nc has neither', async () => {
    const result = await sockit(['nc']);
    expect(result.code).toBe(ExitStatus.USAGE);
    expect(errorLine(result.stderr)).toBe(
      'sockit: nc: give HOST PORT, or --listen --port P [ERR_INVALID_ARGUMENT]',
    );
  });

  it("reports commander's own usage errors as one coded line, exit 2", async () => {
    const cases: Array<[string[], string]> = [
      [['echo', 'serve', '--prot', '7'], "'sockit echo serve --help'"],
      [['users', 'add'], "'sockit users add --help'"],
      [['no-such-command'], "'sockit --help'"],
      [['echo', 'serve', '--port', '70000'], "'sockit echo serve --help'"],
    ];
    for (const [args, help] of cases) {
      const result = await sockit(args);
      expect(result.code, args.join(' ')).toBe(ExitStatus.USAGE);
      const line = errorLine(result.stderr);
      expect(line).toMatch(/^sockit: [^\n]+; run '[^']+' for usage \[ERR_USAGE\]$/);
      expect(line).toContain(help);
      expect(line).not.toContain('error:');
    }
    // Help and the version are not errors.
    expect((await sockit(['--version'])).code).toBe(0);
    expect((await sockit(['echo', 'serve', '--help'])).code).toBe(0);
  });
});
