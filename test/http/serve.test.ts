/**
 * `sockit http serve` against curl: whole files, HEAD, conditional requests, ranges (one,
 * several, unsatisfiable; cached and streamed files), compression, listings, redirects,
 * hostile paths (encoded dots, double slashes, NUL, symbolic links out of the folder,
 * dotfiles), the SPA fallback, CORS and TLS.
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { requireTools, run, type Server, startServer } from '../helpers.js';
import { selfSignedCertificate } from '../tls.js';

const sha = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

interface Answer {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

let headerFiles = 0;

/**
 * `curl ARGS URL`, with the answer's status, headers (lower-case names; the last answer's) and
 * body. The headers go to a file: curl given /dev/stderr crashes when that is a socket.
 */
async function curl(url: string, ...args: string[]): Promise<Answer> {
  const headerFile = path.join(tmpdir(), `sockit-http-headers-${process.pid}-${headerFiles++}`);
  const result = await run('curl', ['-sS', '--path-as-is', '-D', headerFile, '-o', '-', ...args, url]);
  if (result.code !== 0) throw new Error(`curl failed (${result.code}): ${result.stderr}`);
  const head = await readFile(headerFile, 'latin1');
  await rm(headerFile, { force: true });
  const blocks = head.split(/\r\n\r\n/).filter((b) => b.startsWith('HTTP/'));
  const last = blocks.at(-1) ?? '';
  const [statusLine = '', ...lines] = last.split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { status: Number(statusLine.split(' ')[1]), headers, body: result.stdout };
}

describe('sockit http serve, against curl', () => {
  let dir = '';
  let site = '';
  let outside = '';
  let server: Server;
  let base = '';
  const small = Buffer.from('hello, http\n');
  const text = Buffer.from('a line of text that compresses well\n'.repeat(400)); // 14 KiB
  const big = randomBytes(3 * 1024 * 1024 + 17); // past the memory cache: streamed
  const bigText = Buffer.from('a longer line of text, streamed and compressed on the way\n'.repeat(40_000)); // 2.3 MiB

  beforeAll(async () => {
    requireTools('curl');
    dir = await mkdtemp(path.join(tmpdir(), 'sockit-http-'));
    site = path.join(dir, 'site');
    outside = path.join(dir, 'secret.txt');
    await mkdir(path.join(site, 'docs', 'deep'), { recursive: true });
    await mkdir(path.join(site, 'app'), { recursive: true });
    await writeFile(path.join(site, 'hello.txt'), small);
    await writeFile(path.join(site, 'text.txt'), text);
    await writeFile(path.join(site, 'big.bin'), big);
    await writeFile(path.join(site, 'big.txt'), bigText);
    await writeFile(path.join(site, 'docs', 'index.html'), '<h1>docs</h1>\n');
    await writeFile(path.join(site, 'docs', 'deep', 'a&b <c>.txt'), 'odd name\n');
    await writeFile(path.join(site, '.env'), 'SECRET=1\n');
    await writeFile(outside, 'outside the folder\n');
    await symlink(outside, path.join(site, 'leak.txt'));
    await symlink(path.join(site, 'hello.txt'), path.join(site, 'alias.txt'));
    await symlink(dir, path.join(site, 'up'));
    await mkdir(path.join(site, '.git'));
    await writeFile(path.join(site, '.git', 'config'), '[core] secret\n');
    await symlink('.git/config', path.join(site, 'link-to-dotfile'));
    execFileSync('mkfifo', [path.join(site, 'fifo.txt')]);
    await writeFile(path.join(site, 'app', 'index.html'), '<h1>app</h1>\n');
    server = await startServer(['http', 'serve', site, '--host', '127.0.0.1', '--port', '0'], 1);
    base = `http://127.0.0.1:${server.listening[0]?.port}`;
  });

  afterAll(async () => {
    await server?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('serves a file with its type, length, validators and an access log line', async () => {
    const a = await curl(`${base}/hello.txt`);
    expect(a.status).toBe(200);
    expect(a.body).toEqual(small);
    expect(a.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(a.headers['content-length']).toBe(String(small.length));
    expect(a.headers['accept-ranges']).toBe('bytes');
    expect(a.headers.etag).toMatch(/^"[0-9a-f]+-[0-9a-f]+"$/);
    expect(Date.parse(a.headers['last-modified'] ?? '')).toBeGreaterThan(0);
    const big1 = await curl(`${base}/big.bin`);
    expect(big1.status).toBe(200);
    expect(big1.headers['content-type']).toBe('application/octet-stream');
    expect(sha(big1.body)).toBe(sha(big));
    const line = server
      .log()
      .split('\n')
      .find((l) => l.includes('"url":"/hello.txt"'));
    expect(JSON.parse(line ?? '{}')).toMatchObject({ method: 'GET', status: 200, bytes: small.length });
  });

  it('answers HEAD with the headers of GET and no body', async () => {
    for (const file of ['hello.txt', 'big.bin']) {
      const get = await curl(`${base}/${file}`);
      const head = await curl(`${base}/${file}`, '-I');
      expect(head.status).toBe(200);
      expect(head.headers['content-length']).toBe(get.headers['content-length']);
      expect(head.headers.etag).toBe(get.headers.etag);
      // No body: a GET pipelined behind the HEAD on one connection is answered right after
      // the HEAD's header block.
      const raw = await new Promise<string>((resolve, reject) => {
        const socket = net.connect(Number(new URL(base).port), '127.0.0.1', () =>
          socket.write(`HEAD /${file} HTTP/1.1\r\nHost: x\r\n\r\nGET /hello.txt HTTP/1.1\r\nHost: x\r\n\r\n`),
        );
        let seen = '';
        socket.on('data', (d: Buffer) => {
          seen += d.toString('latin1');
          if (seen.endsWith('hello, http\n')) {
            socket.destroy();
            resolve(seen);
          }
        });
        socket.on('error', reject);
      });
      const [first = '', second = ''] = raw.split('\r\n\r\n');
      expect(first).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
      expect(second).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    }
  });

  it('answers conditional requests with 304, and a changed file with 200', async () => {
    const file = path.join(site, 'changing.txt');
    await writeFile(file, 'first\n');
    const first = await curl(`${base}/changing.txt`);
    const etag = first.headers.etag as string;
    expect((await curl(`${base}/changing.txt`, '-H', `If-None-Match: ${etag}`)).status).toBe(304);
    const since = first.headers['last-modified'] as string;
    expect((await curl(`${base}/changing.txt`, '-H', `If-Modified-Since: ${since}`)).status).toBe(304);
    expect((await curl(`${base}/changing.txt`, '-H', 'If-None-Match: "other"')).body.toString()).toBe(
      'first\n',
    );
    // Changed on disk (a new size and time): seen once the cached copy is checked again.
    await writeFile(file, 'second version\n');
    await utimes(file, new Date(), new Date(Date.now() + 5000));
    let now: Answer | undefined;
    for (let i = 0; i < 40; i++) {
      now = await curl(`${base}/changing.txt`, '-H', `If-None-Match: ${etag}`);
      if (now.status === 200) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(now?.status).toBe(200);
    expect(now?.body.toString()).toBe('second version\n');
    expect(now?.headers.etag).not.toBe(etag);
  });

  it('serves ranges: one, open-ended, a suffix, several, and refuses what cannot be met', async () => {
    for (const [file, data] of [
      ['hello.txt', small],
      ['big.bin', big],
    ] as const) {
      const one = await curl(`${base}/${file}`, '-r', '2-6');
      expect(one.status).toBe(206);
      expect(one.headers['content-range']).toBe(`bytes 2-6/${data.length}`);
      expect(one.body).toEqual(data.subarray(2, 7));
      const open = await curl(`${base}/${file}`, '-r', '5-');
      expect(open.body).toEqual(data.subarray(5));
      const suffix = await curl(`${base}/${file}`, '-r', '-4');
      expect(suffix.body).toEqual(data.subarray(data.length - 4));
      const several = await curl(`${base}/${file}`, '-r', '0-1,8-9');
      expect(several.status).toBe(206);
      const boundary = /^multipart\/byteranges; boundary=(\S+)$/.exec(
        several.headers['content-type'] ?? '',
      )?.[1];
      expect(boundary).toBeDefined();
      const parts = several.body.toString('latin1').split(`--${boundary}`);
      expect(parts).toHaveLength(4); // preamble, two parts, the closing "--"
      expect(parts[1]).toContain(`Content-Range: bytes 0-1/${data.length}`);
      expect(parts[1]?.endsWith(`\r\n\r\n${data.subarray(0, 2).toString('latin1')}\r\n`)).toBe(true);
      expect(parts[2]).toContain(`Content-Range: bytes 8-9/${data.length}`);
      const beyond = await curl(`${base}/${file}`, '-r', `${data.length + 10}-${data.length + 20}`);
      expect(beyond.status).toBe(416);
      expect(beyond.headers['content-range']).toBe(`bytes */${data.length}`);
    }
    // A stale If-Range gets the whole file; a current one the range.
    const etag = (await curl(`${base}/big.bin`, '-I')).headers.etag as string;
    const stale = await curl(`${base}/big.bin`, '-r', '0-9', '-H', 'If-Range: "stale"');
    expect(stale.status).toBe(200);
    expect(stale.body.length).toBe(big.length);
    const current = await curl(`${base}/big.bin`, '-r', '0-9', '-H', `If-Range: ${etag}`);
    expect(current.status).toBe(206);
    // A suffix longer than the file is the whole file (RFC 9110 14.1.2); last before first
    // makes the header invalid: ignored.
    for (const [file, data] of [
      ['hello.txt', small],
      ['big.bin', big],
    ] as const) {
      const whole = await curl(`${base}/${file}`, '-r', `-${data.length + 100}`);
      expect(whole.status).toBe(206);
      expect(whole.headers['content-range']).toBe(`bytes 0-${data.length - 1}/${data.length}`);
      expect(sha(whole.body)).toBe(sha(data));
      expect((await curl(`${base}/${file}`, '-H', 'Range: bytes=5-2')).status).toBe(200);
    }
    // Preconditions (RFC 9110 13.1.1, 13.1.4): a tag that does not match is 412.
    expect((await curl(`${base}/big.bin`, '-H', 'If-Match: "other"')).status).toBe(412);
    expect((await curl(`${base}/big.bin`, '-I', '-H', `If-Match: ${etag}`)).status).toBe(200);
    expect(
      (await curl(`${base}/hello.txt`, '-H', 'If-Unmodified-Since: Thu, 01 Jan 1970 00:00:00 GMT')).status,
    ).toBe(412);
    // A malformed Range is ignored (RFC 9110 14.2): the whole file.
    expect((await curl(`${base}/hello.txt`, '-H', 'Range: bytes=abc')).status).toBe(200);
  });

  it('compresses text for a client that accepts it, cached and streamed', async () => {
    // The compressed forms are made after the first request, off the event loop.
    let br = await curl(`${base}/text.txt`, '--compressed', '-H', 'Accept-Encoding: br');
    for (let i = 0; i < 50 && br.headers['content-encoding'] === undefined; i++) {
      expect(br.body).toEqual(text);
      await new Promise((resolve) => setTimeout(resolve, 20));
      br = await curl(`${base}/text.txt`, '--compressed', '-H', 'Accept-Encoding: br');
    }
    expect(br.headers['content-encoding']).toBe('br');
    expect(br.body).toEqual(text);
    expect(br.headers.vary).toBe('Accept-Encoding');
    const gz = await curl(`${base}/text.txt`, '-H', 'Accept-Encoding: gzip');
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(gz.body)).toEqual(text);
    expect(Number(gz.headers['content-length'])).toBe(gz.body.length);
    expect(gz.body.length).toBeLessThan(text.length / 10);
    const plain = await curl(`${base}/text.txt`, '-H', 'Accept-Encoding: gzip;q=0');
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.body).toEqual(text);
    // Past the memory cache: compressed as it streams, without a length.
    const streamed = await curl(`${base}/big.txt`, '-H', 'Accept-Encoding: gzip');
    expect(streamed.headers['content-encoding']).toBe('gzip');
    expect(streamed.headers['content-length']).toBeUndefined();
    expect(gunzipSync(streamed.body)).toEqual(bigText);
    const streamedBr = await curl(`${base}/big.txt`, '--compressed', '-H', 'Accept-Encoding: br');
    expect(streamedBr.headers['content-encoding']).toBe('br');
    expect(streamedBr.body).toEqual(bigText);
    // Not text: never compressed.
    expect(
      (await curl(`${base}/big.bin`, '-I', '-H', 'Accept-Encoding: gzip, br')).headers['content-encoding'],
    ).toBe(undefined);
  });

  it('lists folders for people (HTML, names escaped) and for programs (JSON); redirects a folder to its slash', async () => {
    const redirect = await curl(`${base}/docs/deep?x=1`);
    expect(redirect.status).toBe(301);
    expect(redirect.headers.location).toBe('/docs/deep/?x=1');
    const html = await curl(`${base}/docs/deep/`);
    expect(html.status).toBe(200);
    expect(html.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(html.body.toString()).toContain('<a href="a%26b%20%3Cc%3E.txt">a&amp;b &lt;c&gt;.txt</a>');
    expect(html.body.toString()).not.toContain('<c>');
    const json = await curl(`${base}/`, '-H', 'Accept: application/json');
    const listing = JSON.parse(json.body.toString()) as {
      path: string;
      entries: { name: string; type: string }[];
    };
    expect(listing.path).toBe('/');
    const names = listing.entries.map((e) => e.name);
    expect(names).toEqual(expect.arrayContaining(['app', 'docs', 'hello.txt', 'big.bin']));
    expect(names).not.toContain('.env');
    expect(listing.entries.find((e) => e.name === 'docs')?.type).toBe('folder');
    // A folder with an index.html shows it.
    expect((await curl(`${base}/docs/`)).body.toString()).toBe('<h1>docs</h1>\n');
  });

  it('keeps hostile paths inside the folder, with the right status', async () => {
    const status = async (p: string): Promise<number> => (await curl(`${base}${p}`)).status;
    expect(await status('/../secret.txt')).toBe(400);
    expect(await status('/docs/../../secret.txt')).toBe(400);
    expect(await status('/%2e%2e/secret.txt')).toBe(400);
    expect(await status('/%2E%2E%2Fsecret.txt')).toBe(400);
    expect(await status('/docs/%2e%2e/%2e%2e/secret.txt')).toBe(400);
    expect(await status('/..%2fsecret.txt')).toBe(400);
    expect(await status('/hello.txt%00.html')).toBe(400);
    expect(await status('/%zz')).toBe(400);
    expect(await status('/leak.txt')).toBe(403); // a link out of the folder
    expect(await status('/up/secret.txt')).toBe(403); // a folder link out of it
    expect(await status('/.env')).toBe(404);
    expect(await status('/docs/.%65nv')).toBe(404);
    expect(await status('/nope.txt')).toBe(404);
    expect(await status('/hello.txt/')).toBe(404);
    // Double slashes are one; a link that stays inside is followed.
    expect((await curl(`${base}//hello.txt`)).body).toEqual(small);
    expect((await curl(`${base}/docs//deep///a%26b%20%3Cc%3E.txt`)).body.toString()).toBe('odd name\n');
    expect((await curl(`${base}/alias.txt`)).body).toEqual(small);
    // Nothing of the outside file in any answer.
    for (const p of ['/leak.txt', '/up/secret.txt', '/../secret.txt']) {
      expect((await curl(`${base}${p}`)).body.toString()).not.toContain('outside the folder');
    }
    // A link to a dotfile is a dotfile; control characters are never in a name served.
    expect(await status('/link-to-dotfile')).toBe(404);
    expect(await status('/hello%0A.txt')).toBe(400);
    expect(await status('/hello%01.txt')).toBe(400);
    // A FIFO is not a file: refused at once, and nothing hangs behind it.
    for (let i = 0; i < 8; i++) expect(await status('/fifo.txt')).toBe(403);
    expect((await curl(`${base}/big.bin`, '-r', '0-3')).status).toBe(206);
    const post = await curl(`${base}/hello.txt`, '-X', 'POST', '-d', 'x');
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe('GET, HEAD');
  });

  it('with --spa, --cors and --dotfiles: pages fall back to index.html, any origin reads, dotfiles show', async () => {
    const spa = await startServer(
      ['http', 'serve', path.join(site, 'app'), '--host', '127.0.0.1', '--port', '0', '--spa', '--cors'],
      1,
    );
    const dotted = await startServer(
      ['http', 'serve', site, '--host', '127.0.0.1', '--port', '0', '--dotfiles'],
      1,
    );
    try {
      const at = `http://127.0.0.1:${spa.listening[0]?.port}`;
      const route = await curl(`${at}/users/42`, '-H', 'Accept: text/html');
      expect(route.status).toBe(200);
      expect(route.body.toString()).toBe('<h1>app</h1>\n');
      expect(route.headers['access-control-allow-origin']).toBe('*');
      expect((await curl(`${at}/missing.js`)).status).toBe(404);
      const preflight = await curl(`${at}/x`, '-X', 'OPTIONS', '-H', 'Access-Control-Request-Method: GET');
      expect(preflight.status).toBe(204);
      expect(preflight.headers['access-control-allow-methods']).toBe('GET, HEAD, OPTIONS');
      const env = await curl(`http://127.0.0.1:${dotted.listening[0]?.port}/.env`);
      expect(env.body.toString()).toBe('SECRET=1\n');
    } finally {
      await spa.stop();
      await dotted.stop();
    }
  });

  it('serves HTTPS with --tls-cert and --tls-key', async () => {
    const { cert, key } = await selfSignedCertificate(dir);
    const secure = await startServer(
      ['http', 'serve', site, '--host', '127.0.0.1', '--port', '0', '--tls-cert', cert, '--tls-key', key],
      1,
    );
    try {
      const a = await curl(`https://127.0.0.1:${secure.listening[0]?.port}/hello.txt`, '-k');
      expect(a.status).toBe(200);
      expect(a.body).toEqual(small);
    } finally {
      await secure.stop();
    }
  });
});
