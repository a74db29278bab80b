/** The key-value example (examples/kv-server.ts) on a real socket, and its copy in docs/runtime.md. */
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { scramLogin } from 'sockit/auth';
import { LineConnection, type TcpService } from 'sockit/runtime';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LIMITS, lineTransport, serveKv } from '../../examples/kv-server.js';
import { deriveCredentials } from '../../src/auth/scram.js';
import { openUserStore, type UserStore } from '../../src/auth/store.js';
import { ErrorCode } from '../../src/errors.js';

const ITERATIONS = 4096;
let base: string;
let store: UserStore;
let service: TcpService;
const sockets: net.Socket[] = [];

beforeAll(async () => {
  base = await mkdtemp(path.join(tmpdir(), 'sockit-kv-'));
  store = await openUserStore(path.join(base, 'users.db'));
  await store.add('ann', await deriveCredentials('correct horse', { iterations: ITERATIONS }));
  await store.add('bob', await deriveCredentials('battery staple', { iterations: ITERATIONS }));
  service = await serveKv({ store, fakeKey: randomBytes(32), host: '127.0.0.1' });
});

afterAll(async () => {
  await service?.close();
  await store?.close();
  if (base) await rm(base, { recursive: true, force: true });
});

afterEach(() => {
  for (const socket of sockets.splice(0)) socket.destroy();
});

async function connect(): Promise<net.Socket> {
  const socket = net.connect(service.address.port, '127.0.0.1');
  sockets.push(socket);
  socket.on('error', () => {});
  await once(socket, 'connect');
  return socket;
}

/** A client: logged in as `user` over lines, then commands as lines. */
async function client(user: string, password: string) {
  const conn = new LineConnection(await connect(), { maxLineLength: 1 << 20 });
  const name = await scramLogin(lineTransport(conn), user, password);
  const ask = async (line: string): Promise<string | undefined> => {
    conn.send(line);
    return (await conn[Symbol.asyncIterator]().next()).value;
  };
  return { conn, name, ask };
}

/** Everything the server sends until it ends the connection. */
async function rest(socket: net.Socket): Promise<string> {
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  await once(socket, 'end');
  return Buffer.concat(chunks).toString();
}

describe('the key-value example', () => {
  it('logs in with SCRAM over lines, then sets, gets, lists and deletes keys of its own', async () => {
    const ann = await client('ann', 'correct horse');
    expect(ann.name).toBe('ann');
    expect(await ann.ask('SET greeting hello, wörld')).toBe('OK');
    expect(await ann.ask('SET b 2')).toBe('OK');
    expect(await ann.ask('GET greeting')).toBe('VALUE hello, wörld');
    expect(await ann.ask('KEYS')).toBe('VALUE b greeting');
    expect(await ann.ask('DEL b')).toBe('OK');
    expect(await ann.ask('GET b')).toBe(`ERR ${ErrorCode.NOT_FOUND} no such key`);
    expect(await ann.ask('FLY away')).toMatch(/^ERR ERR_BAD_REQUEST /);
    // Another user has keys of their own.
    const bob = await client('bob', 'battery staple');
    expect(await bob.ask('KEYS')).toBe('VALUE');
    expect(await bob.ask('GET greeting')).toBe(`ERR ${ErrorCode.NOT_FOUND} no such key`);
  });

  it('refuses a wrong password with ERR_AUTH_FAILED, and commands after it', async () => {
    const conn = new LineConnection(await connect());
    await expect(scramLogin(lineTransport(conn), 'ann', 'wrong horse')).rejects.toMatchObject({
      code: ErrorCode.AUTH_FAILED,
    });
    conn.send('GET greeting');
    expect((await conn[Symbol.asyncIterator]().next()).value).toBe(`ERR ${ErrorCode.FORBIDDEN} log in first`);
  });

  it('refuses a command before log-in and closes', async () => {
    const socket = await connect();
    socket.end('SET a 1\n');
    expect(await rest(socket)).toBe(`ERR ${ErrorCode.FORBIDDEN} log in first\n`);
  });

  it('refuses an over-long line, before log-in and after', async () => {
    const socket = await connect();
    const answer = rest(socket);
    // Without a line end: limit + 1 bytes could still be a line and its CR; one more cannot.
    socket.write('x'.repeat(LIMITS.line + 2));
    expect(await answer).toMatch(/^ERR ERR_FRAME_TOO_LARGE [^\n]*\n$/);

    const ann = await client('ann', 'correct horse');
    expect(await ann.ask(`SET big ${'v'.repeat(LIMITS.line)}`)).toMatch(/^ERR ERR_FRAME_TOO_LARGE /);
  });

  it('bounds values, keys and the number of keys', async () => {
    const bob = await client('bob', 'battery staple');
    expect(await bob.ask(`SET v ${'v'.repeat(LIMITS.value + 1)}`)).toMatch(/^ERR ERR_BAD_REQUEST /);
    expect(await bob.ask(`SET ${'k'.repeat(LIMITS.key + 1)} v`)).toMatch(/^ERR ERR_BAD_REQUEST /);
    (bob.conn.socket as net.Socket).write('SET k a\rb\n');
    expect((await bob.conn[Symbol.asyncIterator]().next()).value).toMatch(/^ERR ERR_BAD_REQUEST /);
    // Pipelined: every SET in one write, then every answer.
    const lines = Array.from({ length: LIMITS.keys }, (_, i) => `SET key${i} ${i}`);
    (bob.conn.socket as net.Socket).write(`${lines.join('\n')}\n`);
    const answers = bob.conn[Symbol.asyncIterator]();
    for (let i = 0; i < LIMITS.keys; i++) expect((await answers.next()).value).toBe('OK');
    expect(await bob.ask('SET one-more 1')).toBe(
      `ERR ${ErrorCode.QUOTA_EXCEEDED} at most ${LIMITS.keys} keys`,
    );
    expect(await bob.ask('SET key7 replaced')).toBe('OK');
  });

  it('takes nc-style raw lines (LF or CR LF) after log-in', async () => {
    const ann = await client('ann', 'correct horse');
    const socket = ann.conn.socket as net.Socket;
    const raw: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => raw.push(chunk));
    socket.write('SET nc typed by hand\r\nGET nc\nDEL nc\r\n');
    const answers = ann.conn[Symbol.asyncIterator]();
    const got = [(await answers.next()).value, (await answers.next()).value, (await answers.next()).value];
    expect(got).toEqual(['OK', 'VALUE typed by hand', 'OK']);
    expect(Buffer.concat(raw).toString()).toBe('OK\nVALUE typed by hand\nOK\n');
  });
});

describe('docs/runtime.md', () => {
  it('shows the example exactly as examples/kv-server.ts has it, in under 100 lines', async () => {
    const root = path.join(import.meta.dirname, '..', '..');
    const doc = await readFile(path.join(root, 'docs', 'runtime.md'), 'utf8');
    const code = await readFile(path.join(root, 'examples', 'kv-server.ts'), 'utf8');
    const section = doc.slice(doc.indexOf('## Example: a key-value server with log-in'));
    const block = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
    expect(block).toBe(code);
    expect(code.split('\n').length - 1).toBeLessThan(100);
  });
});
