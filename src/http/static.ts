/**
 * Static files over HTTP: the request handler of `sockit http serve`.
 *
 * Every path is opened through the shared confinement (`runtime/confine.ts`): no `..`, no
 * symbolic link out of the folder (links inside it are followed), no dotfiles unless asked.
 * HTTP itself is Node's (`node:http` parses); what is done here is what a static server
 * answers: GET and HEAD, `ETag` and `Last-Modified` with 304 (`fresh`), `Range` with 206 and
 * 416, several ranges as `multipart/byteranges` (`ranges.ts`: RFC 9110 to the letter), MIME types (`mime-types`),
 * gzip or brotli for text when the client accepts it, folder listings (HTML, or JSON for
 * `Accept: application/json`), `index.html`, an SPA fallback and CORS when asked.
 *
 * Small files (up to `cacheFileBytes`) are kept in memory with their headers and compressed
 * forms, and checked against the disk again at most every `revalidateMs`: a hot small file
 * costs no system call per request. Larger ones are streamed from an open handle.
 */
import { randomBytes } from 'node:crypto';
import { constants, type Stats } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import type http from 'node:http';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import fresh from 'fresh';
import mime from 'mime-types';
import { isSockitError } from '../errors.js';
import type { ConfinedEntry, ConfinedRoot } from '../runtime/confine.js';
import type { Logger } from '../runtime/log.js';
import { silentLogger } from '../runtime/log.js';
import { type ListingEntry, listingHtml, listingJson } from './listing.js';
import { type ByteRange, byteRanges } from './ranges.js';

export interface StaticOptions {
  /** Serve names that start with a dot. Default false: they are 404. */
  dotfiles?: boolean;
  /** Answer a missing path that looks like a page (no extension, HTML accepted) with /index.html. */
  spa?: boolean;
  /** `Access-Control-Allow-Origin: *` on every answer, and preflight (OPTIONS) answered. */
  cors?: boolean;
  /** List folders without an index.html. Default true. */
  listing?: boolean;
  /** gzip or brotli for compressible types when the client accepts it. Default true. */
  compress?: boolean;
  /** Files up to this size are cached in memory. Default 1 MiB. */
  cacheFileBytes?: number;
  /** The memory cache holds at most this much. Default 64 MiB. */
  cacheBytes?: number;
  /** A cached file is checked against the disk again after this long. Default 1000 ms. */
  revalidateMs?: number;
  /** `Cache-Control` for files. Default `public, max-age=0` (always revalidate, 304 when unchanged). */
  cacheControl?: string;
  /**
   * Paths of files whose name changes with their content (`app-3f2a9c0d1e.js`): cached by
   * browsers for a year, never asked again. Unset: none.
   */
  immutable?: RegExp;
  /** Most entries a listing shows. Default 10,000. */
  maxListed?: number;
  log?: Logger;
  /** The clock (ms), for tests. */
  now?: () => number;
}

/** What one answered request was, for the access log. */
export interface Served {
  status: number;
  bytes: number;
}

/** A file's bytes and headers, kept in memory. */
interface Cached {
  rel: string;
  stats: Pick<Stats, 'size' | 'mtimeMs' | 'ctimeMs' | 'ino' | 'dev'>;
  body: Buffer;
  gzip?: Buffer;
  br?: Buffer;
  type: string;
  etag: string;
  lastModified: string;
  checkedAt: number;
}

const MAX_PATH_BYTES = 4096;
/** NUL and the other control characters: never in a name served. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching them is the point
const CONTROL = /[\u0000-\u001f\u007f]/;
/** More ranges in one request are ignored (the whole file): see ranges.ts. */
const MAX_RANGES = 64;
/** Request targets remembered (then forgotten all at once: a crowd of made-up ones costs nothing). */
const MAX_KNOWN_URLS = 4096;
const gzipAsync = promisify(zlib.gzip);
const brotliAsync = promisify(zlib.brotliCompress);
/** Smaller bodies are not worth compressing. */
const MIN_COMPRESS_BYTES = 1024;
/** Bytes read ahead of a slow client from a streamed file. */
const READ_AHEAD = 256 * 1024;
const COMPRESSIBLE =
  /^(text\/|application\/(json|javascript|xml|wasm|manifest\+json|ld\+json)|image\/svg\+xml)/;

/** Why a request path is refused before the disk is asked. */
class BadPath extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * @example
 * ```ts
 * const root = await ConfinedRoot.open('public');
 * const files = new StaticFiles(root, { spa: true });
 * http.createServer((req, res) => void files.handle(req, res)).listen(8080);
 * ```
 */
export class StaticFiles {
  readonly #root: ConfinedRoot;
  readonly #o: Required<Omit<StaticOptions, 'log' | 'now' | 'immutable'>>;
  readonly #immutable: RegExp | undefined;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #cache = new Map<string, Cached>();
  /** Request targets that named a cached file, and its path (see `#handle`). */
  readonly #urls = new Map<string, string>();
  #cachedBytes = 0;

  constructor(root: ConfinedRoot, options: StaticOptions = {}) {
    this.#root = root;
    this.#o = {
      dotfiles: options.dotfiles ?? false,
      spa: options.spa ?? false,
      cors: options.cors ?? false,
      listing: options.listing ?? true,
      compress: options.compress ?? true,
      cacheFileBytes: options.cacheFileBytes ?? 1024 * 1024,
      cacheBytes: options.cacheBytes ?? 64 * 1024 * 1024,
      revalidateMs: options.revalidateMs ?? 1000,
      cacheControl: options.cacheControl ?? 'public, max-age=0',
      maxListed: options.maxListed ?? 10_000,
    };
    this.#log = options.log ?? silentLogger;
    this.#now = options.now ?? Date.now;
    this.#immutable = options.immutable;
  }

  /**
   * Answers one request; never rejects (a failure is a 500 and a log line). A cached file
   * checked lately is answered at once, without a promise: the hot path.
   */
  handle(req: http.IncomingMessage, res: http.ServerResponse): Served | Promise<Served> {
    try {
      const answer = this.#handle(req, res);
      return answer instanceof Promise ? answer.catch((err: unknown) => this.#failed(req, res, err)) : answer;
    } catch (err) {
      return this.#failed(req, res, err);
    }
  }

  #failed(req: http.IncomingMessage, res: http.ServerResponse, err: unknown): Served {
    if (err instanceof BadPath) return this.#plain(req, res, err.status, err.message);
    this.#log.error({ err: (err as Error).message, url: req.url }, 'http: request failed');
    if (res.headersSent) {
      res.destroy();
      return { status: res.statusCode, bytes: 0 };
    }
    return this.#plain(req, res, 500, 'internal error');
  }

  #handle(req: http.IncomingMessage, res: http.ServerResponse): Served | Promise<Served> {
    if (this.#o.cors) res.setHeader('Access-Control-Allow-Origin', '*');
    const method = req.method ?? 'GET';
    if (method === 'OPTIONS' && this.#o.cors) {
      res.writeHead(204, {
        'Access-Control-Allow-Methods': 'GET, HEAD, OPTIONS',
        'Access-Control-Allow-Headers': req.headers['access-control-request-headers'] ?? '*',
        'Access-Control-Max-Age': '86400',
        'Content-Length': '0',
      });
      res.end();
      return { status: 204, bytes: 0 };
    }
    if (method !== 'GET' && method !== 'HEAD') {
      res.setHeader('Allow', this.#o.cors ? 'GET, HEAD, OPTIONS' : 'GET, HEAD');
      return this.#plain(req, res, 405, `${method} is not served here; GET and HEAD are`);
    }
    // A target seen before that named a cached file: no parsing again.
    const url = req.url ?? '';
    const known = this.#urls.get(url);
    const hit = known === undefined ? undefined : this.#cache.get(known);
    if (hit !== undefined) return this.#fromCache(req, res, hit);
    const { names, slash, query } = requestPath(url);
    if (!this.#o.dotfiles && names.some((n) => n.startsWith('.'))) {
      return this.#plain(req, res, 404, 'not found');
    }
    const rel = names.join('/');
    const cached = slash ? undefined : this.#cache.get(rel);
    if (cached !== undefined) {
      if (this.#urls.size >= MAX_KNOWN_URLS) this.#urls.clear();
      this.#urls.set(url, rel);
      return this.#fromCache(req, res, cached);
    }
    return this.#serve(req, res, names, slash, query, false);
  }

  /** A cached file, checked against the disk first when its last check is older than `revalidateMs`. */
  #fromCache(req: http.IncomingMessage, res: http.ServerResponse, hit: Cached): Served | Promise<Served> {
    if (this.#now() - hit.checkedAt < this.#o.revalidateMs) return this.#sendCached(req, res, hit);
    return this.#stillSame(hit).then((still) => {
      if (still) return this.#sendCached(req, res, hit);
      const { names, query } = requestPath(req.url);
      return this.#serve(req, res, names, false, query, false);
    });
  }

  async #serve(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    names: string[],
    slash: boolean,
    query: string,
    fallback: boolean,
  ): Promise<Served> {
    const rel = names.join('/');
    let handle: FileHandle;
    try {
      // O_NONBLOCK: a FIFO (or device) put in the folder must not hold a thread in open(2);
      // it is refused below as not a regular file. Reads of regular files ignore the flag.
      handle = await this.#root.openFile(
        rel === '' ? '.' : rel,
        constants.O_RDONLY | constants.O_NONBLOCK,
        0,
        {
          follow: true,
        },
      );
    } catch (err) {
      if (rel === '') return this.#folder(req, res, names, slash, query);
      return this.#missing(req, res, names, err, fallback);
    }
    let owned = true;
    try {
      if (!this.#o.dotfiles && rel !== '') {
        // A link may lead to a dotfile (site/config -> .git/config): what it names counts.
        const real = await this.#root.resolve(rel, { follow: true });
        if (real.split('/').some((n) => n.startsWith('.'))) return this.#plain(req, res, 404, 'not found');
      }
      const stats = await handle.stat();
      if (stats.isDirectory()) {
        await handle.close();
        owned = false;
        return this.#folder(req, res, names, slash, query);
      }
      if (!stats.isFile()) return this.#plain(req, res, 403, 'not a regular file');
      if (slash) return this.#plain(req, res, 404, 'not found');
      if (stats.size <= this.#o.cacheFileBytes) {
        const body = await handle.readFile();
        const entry = this.#remember(rel, stats, body);
        return this.#sendCached(req, res, entry);
      }
      owned = false;
      return await this.#stream(req, res, handle, stats, rel);
    } finally {
      if (owned) await handle.close();
    }
  }

  /** A path that did not open: 404 (or the SPA's index), 403 for one that would leave the folder. */
  #missing(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    names: string[],
    err: unknown,
    fallback: boolean,
  ): Promise<Served> | Served {
    const code = isSockitError(err) ? err.code : (err as NodeJS.ErrnoException).code;
    if (code === 'ERR_PATH_DENIED' || code === 'EACCES' || code === 'EPERM' || code === 'ELOOP') {
      return this.#plain(req, res, 403, 'forbidden');
    }
    // EINVAL and ENOTDIR also come of a folder swapped for a link (or back) mid-walk.
    if (code === 'ENXIO' || code === 'EINVAL') return this.#plain(req, res, 404, 'not found');
    if (code !== 'ENOENT' && code !== 'ENOTDIR' && code !== 'ENAMETOOLONG') throw err;
    const last = names.at(-1) ?? '';
    const accept = String(req.headers.accept ?? '');
    if (
      this.#o.spa &&
      !fallback &&
      !last.includes('.') &&
      (accept === '' || /text\/html|\*\/\*/.test(accept))
    ) {
      return this.#serve(req, res, ['index.html'], false, '', true);
    }
    return this.#plain(req, res, 404, 'not found');
  }

  async #folder(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    names: string[],
    slash: boolean,
    query: string,
  ): Promise<Served> {
    const urlPath = `/${names.map(encodeURIComponent).join('/')}`;
    if (!slash && names.length > 0) {
      // A folder's own URL ends with '/', so that its relative links resolve inside it.
      const location = `${urlPath}/${query}`;
      res.writeHead(301, { Location: location, 'Content-Length': '0' });
      res.end();
      return { status: 301, bytes: 0 };
    }
    const index = [...names, 'index.html'];
    try {
      const stats = await this.#root.stat(index.join('/'), { follow: true });
      if (stats.isFile()) return this.#serve(req, res, index, false, '', true);
    } catch {
      // no index: a listing
    }
    if (!this.#o.listing) return this.#plain(req, res, 403, 'listing is off');
    let entries: ConfinedEntry[];
    try {
      entries = await this.#root.readdir(names.length === 0 ? '.' : names.join('/'), {
        follow: true,
        max: this.#o.maxListed,
      });
    } catch (err) {
      if (isSockitError(err) && err.code === 'ERR_INVALID_ARGUMENT') {
        return this.#plain(
          req,
          res,
          403,
          `this folder holds more than ${this.#o.maxListed} entries: not listed`,
        );
      }
      throw err;
    }
    const shown: ListingEntry[] = entries
      .filter((e) => this.#o.dotfiles || !e.name.startsWith('.'))
      .map((e) => ({
        name: e.name,
        folder: e.stats.isDirectory(),
        size: e.stats.isFile() ? e.stats.size : undefined,
        mtimeMs: e.stats.mtimeMs,
        link: e.stats.isSymbolicLink(),
      }));
    const json = /application\/json/.test(String(req.headers.accept ?? ''));
    const body = Buffer.from(json ? listingJson(urlPath, shown) : listingHtml(urlPath, shown), 'utf8');
    const type = json ? 'application/json; charset=utf-8' : 'text/html; charset=utf-8';
    res.writeHead(200, {
      'Content-Type': type,
      'Content-Length': String(body.length),
      'Cache-Control': 'no-cache',
      'X-Content-Type-Options': 'nosniff',
    });
    if (req.method === 'HEAD') res.end();
    else res.end(body);
    return { status: 200, bytes: req.method === 'HEAD' ? 0 : body.length };
  }

  /** Whether a cached file is unchanged on disk (through the confinement, as a request would). */
  async #stillSame(hit: Cached): Promise<boolean> {
    try {
      const stats = await this.#root.stat(hit.rel, { follow: true });
      const same =
        stats.isFile() &&
        stats.size === hit.stats.size &&
        stats.mtimeMs === hit.stats.mtimeMs &&
        stats.ctimeMs === hit.stats.ctimeMs &&
        stats.ino === hit.stats.ino &&
        stats.dev === hit.stats.dev;
      if (same) hit.checkedAt = this.#now();
      else this.#forget(hit.rel);
      return same;
    } catch {
      this.#forget(hit.rel);
      return false;
    }
  }

  #remember(rel: string, stats: Stats, body: Buffer): Cached {
    const type = contentType(rel);
    const entry: Cached = {
      rel,
      stats: {
        size: stats.size,
        mtimeMs: stats.mtimeMs,
        ctimeMs: stats.ctimeMs,
        ino: stats.ino,
        dev: stats.dev,
      },
      body,
      type,
      etag: etagOf(stats),
      lastModified: new Date(Math.floor(stats.mtimeMs / 1000) * 1000).toUTCString(),
      checkedAt: this.#now(),
    };
    this.#forget(rel);
    if (this.#makeRoom(body.length)) {
      this.#cache.set(rel, entry);
      this.#cachedBytes += body.length;
      if (this.#o.compress && body.length >= MIN_COMPRESS_BYTES && COMPRESSIBLE.test(type)) {
        void this.#compress(entry);
      }
    }
    return entry;
  }

  /**
   * Makes the compressed forms of a cached file on the thread pool (never on the event
   * loop: brotli of a 1 MiB file takes tens of milliseconds); until they are there, and if
   * the file left the cache meanwhile, the file goes out as it is.
   */
  async #compress(entry: Cached): Promise<void> {
    try {
      const [gzip, br] = await Promise.all([
        gzipAsync(entry.body, { level: 6 }),
        brotliAsync(entry.body, {
          params: {
            [zlib.constants.BROTLI_PARAM_QUALITY]: 5,
            [zlib.constants.BROTLI_PARAM_SIZE_HINT]: entry.body.length,
          },
        }),
      ]);
      if (this.#cache.get(entry.rel) !== entry || !this.#makeRoom(gzip.length + br.length, entry.rel)) return;
      entry.gzip = gzip;
      entry.br = br;
      this.#cachedBytes += gzip.length + br.length;
    } catch (err) {
      this.#log.warn({ err: (err as Error).message, file: entry.rel }, 'http: cannot compress');
    }
  }

  /** Drops the oldest cached files (a Map keeps insertion order) until `bytes` more fit. */
  #makeRoom(bytes: number, keep?: string): boolean {
    if (bytes > this.#o.cacheBytes) return false;
    for (const [key] of this.#cache) {
      if (this.#cachedBytes + bytes <= this.#o.cacheBytes) break;
      if (key !== keep) this.#forget(key);
    }
    return this.#cachedBytes + bytes <= this.#o.cacheBytes;
  }

  #forget(rel: string): void {
    const old = this.#cache.get(rel);
    if (old === undefined) return;
    this.#cache.delete(rel);
    this.#cachedBytes -= old.body.length + (old.gzip?.length ?? 0) + (old.br?.length ?? 0);
  }

  #sendCached(req: http.IncomingMessage, res: http.ServerResponse, entry: Cached): Served {
    const headers = this.#fileHeaders(entry.rel, entry.type, entry.etag, entry.lastModified);
    if (preconditionFailed(req, entry.etag, entry.lastModified))
      return this.#plain(req, res, 412, 'precondition failed');
    if (this.#notModified(req, headers)) return this.#send304(res, headers);
    const size = entry.body.length;
    const ranges = this.#ranges(req, size, entry.etag, entry.lastModified);
    if (ranges === 'unsatisfiable') return this.#send416(req, res, size);
    if (ranges !== undefined) {
      const parts = ranges.map((r) => ({ ...r, body: entry.body.subarray(r.start, r.end + 1) }));
      return this.#sendRanges(req, res, headers, entry.type, size, parts);
    }
    let body = entry.body;
    if (entry.gzip !== undefined || entry.br !== undefined) {
      headers.Vary = 'Accept-Encoding';
      const coding = chooseEncoding(req.headers['accept-encoding']);
      if (coding === 'br' && entry.br !== undefined) body = entry.br;
      else if (coding !== undefined && entry.gzip !== undefined) body = entry.gzip;
      if (body !== entry.body) {
        headers['Content-Encoding'] = body === entry.br ? 'br' : 'gzip';
        headers.ETag = `W/${entry.etag}`;
      }
    }
    headers['Content-Length'] = String(body.length);
    res.writeHead(200, headers);
    if (req.method === 'HEAD') {
      res.end();
      return { status: 200, bytes: 0 };
    }
    res.end(body);
    return { status: 200, bytes: body.length };
  }

  async #stream(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    handle: FileHandle,
    stats: Stats,
    rel: string,
  ): Promise<Served> {
    let closed = false;
    const close = async (): Promise<void> => {
      if (closed) return;
      closed = true;
      await handle.close();
    };
    try {
      const type = contentType(rel);
      const etag = etagOf(stats);
      const lastModified = new Date(Math.floor(stats.mtimeMs / 1000) * 1000).toUTCString();
      const headers = this.#fileHeaders(rel, type, etag, lastModified);
      if (preconditionFailed(req, etag, lastModified))
        return this.#plain(req, res, 412, 'precondition failed');
      if (this.#notModified(req, headers)) return this.#send304(res, headers);
      const ranges = this.#ranges(req, stats.size, etag, lastModified);
      if (ranges === 'unsatisfiable') return this.#send416(req, res, stats.size);
      if (ranges !== undefined && ranges.length > 1) {
        return await this.#streamRanges(req, res, handle, headers, type, stats.size, ranges);
      }
      const range = ranges?.[0];
      const start = range?.start ?? 0;
      const end = range?.end ?? stats.size - 1;
      const length = end - start + 1;
      const coding =
        range === undefined && this.#o.compress && COMPRESSIBLE.test(type)
          ? chooseEncoding(req.headers['accept-encoding'])
          : undefined;
      if (range !== undefined) headers['Content-Range'] = `bytes ${start}-${end}/${stats.size}`;
      if (this.#o.compress && range === undefined && COMPRESSIBLE.test(type))
        headers.Vary = 'Accept-Encoding';
      if (coding !== undefined) {
        headers['Content-Encoding'] = coding;
        headers.ETag = `W/${etag}`;
      } else headers['Content-Length'] = String(length);
      const status = range === undefined ? 200 : 206;
      res.writeHead(status, headers);
      if (req.method === 'HEAD' || length === 0) {
        res.end();
        return { status, bytes: 0 };
      }
      const source = handle.createReadStream({ start, end, autoClose: false, highWaterMark: READ_AHEAD });
      let sent = 0;
      const counted = (chunk: Buffer | string): void => {
        sent += chunk.length;
      };
      try {
        if (coding === undefined) {
          source.on('data', counted);
          await pipeline(source, res);
        } else {
          const packer =
            coding === 'br'
              ? zlib.createBrotliCompress({
                  // A 256 KiB window, not brotli's 4 MiB: a client that stops reading holds
                  // about as much as with gzip.
                  params: {
                    [zlib.constants.BROTLI_PARAM_QUALITY]: 4,
                    [zlib.constants.BROTLI_PARAM_LGWIN]: 18,
                  },
                })
              : zlib.createGzip({ level: 6 });
          packer.on('data', counted);
          await pipeline(source, packer, res);
        }
      } catch {
        // The client went away mid-body: nothing to answer; the handle closes below.
        res.destroy();
      }
      return { status, bytes: sent };
    } finally {
      await close();
    }
  }

  #fileHeaders(rel: string, type: string, etag: string, lastModified: string): Record<string, string> {
    return {
      'Content-Type': type,
      ETag: etag,
      'Last-Modified': lastModified,
      'Accept-Ranges': 'bytes',
      'Cache-Control': this.#immutable?.test(rel)
        ? 'public, max-age=31536000, immutable'
        : this.#o.cacheControl,
      'X-Content-Type-Options': 'nosniff',
    };
  }

  #notModified(req: http.IncomingMessage, headers: Record<string, string>): boolean {
    const asks = req.headers['if-none-match'] !== undefined || req.headers['if-modified-since'] !== undefined;
    return asks && fresh(req.headers, { etag: headers.ETag, 'last-modified': headers['Last-Modified'] });
  }

  #send304(res: http.ServerResponse, headers: Record<string, string>): Served {
    const { ETag, 'Last-Modified': lastModified, 'Cache-Control': cacheControl } = headers;
    res.writeHead(304, {
      ETag: ETag as string,
      'Last-Modified': lastModified as string,
      'Cache-Control': cacheControl as string,
    });
    res.end();
    return { status: 304, bytes: 0 };
  }

  /**
   * The ranges asked for, combined and in order; undefined for the whole file (no Range, a
   * malformed one, a stale If-Range, or ranges that would cost more than the file itself).
   */
  #ranges(
    req: http.IncomingMessage,
    size: number,
    etag: string,
    lastModified: string,
  ): ByteRange[] | 'unsatisfiable' | undefined {
    const header = req.headers.range;
    if (header === undefined || header.length > 1024) return undefined;
    const ifRange = req.headers['if-range'];
    if (typeof ifRange === 'string') {
      const matches =
        ifRange.startsWith('"') || ifRange.startsWith('W/') ? ifRange === etag : ifRange === lastModified;
      // Compared strongly (RFC 9110 13.1.5): a weak tag never matches.
      if (!matches) return undefined;
    }
    return byteRanges(header, size, MAX_RANGES);
  }

  #send416(req: http.IncomingMessage, res: http.ServerResponse, size: number): Served {
    res.setHeader('Content-Range', `bytes */${size}`);
    return this.#plain(req, res, 416, 'range not satisfiable');
  }

  #sendRanges(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    headers: Record<string, string>,
    type: string,
    size: number,
    parts: (ByteRange & { body: Buffer })[],
  ): Served {
    if (parts.length === 1) {
      const [part] = parts as [{ start: number; end: number; body: Buffer }];
      headers['Content-Range'] = `bytes ${part.start}-${part.end}/${size}`;
      headers['Content-Length'] = String(part.body.length);
      res.writeHead(206, headers);
      if (req.method === 'HEAD') res.end();
      else res.end(part.body);
      return { status: 206, bytes: req.method === 'HEAD' ? 0 : part.body.length };
    }
    const { boundary, heads, tail, length } = multipart(type, size, parts);
    const chunks: Buffer[] = [];
    for (const [i, part] of parts.entries()) chunks.push(heads[i] as Buffer, part.body);
    chunks.push(tail);
    headers['Content-Type'] = `multipart/byteranges; boundary=${boundary}`;
    headers['Content-Length'] = String(length);
    res.writeHead(206, headers);
    if (req.method === 'HEAD') res.end();
    else res.end(Buffer.concat(chunks, length));
    return { status: 206, bytes: req.method === 'HEAD' ? 0 : length };
  }

  /**
   * Several ranges of a file too large for the cache, as one multipart answer streamed part
   * after part from the file: what the server holds is one read-ahead, whatever the ranges.
   */
  async #streamRanges(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    handle: FileHandle,
    headers: Record<string, string>,
    type: string,
    size: number,
    ranges: ByteRange[],
  ): Promise<Served> {
    const { boundary, heads, tail, length } = multipart(type, size, ranges);
    headers['Content-Type'] = `multipart/byteranges; boundary=${boundary}`;
    headers['Content-Length'] = String(length);
    res.writeHead(206, headers);
    if (req.method === 'HEAD') {
      res.end();
      return { status: 206, bytes: 0 };
    }
    let sent = 0;
    async function* body(): AsyncGenerator<Buffer> {
      for (const [i, r] of ranges.entries()) {
        yield heads[i] as Buffer;
        for await (const chunk of handle.createReadStream({
          start: r.start,
          end: r.end,
          autoClose: false,
          highWaterMark: READ_AHEAD,
        })) {
          yield chunk as Buffer;
        }
      }
      yield tail;
    }
    try {
      await pipeline(
        body(),
        async function* (source: AsyncIterable<Buffer>) {
          for await (const chunk of source) {
            sent += chunk.length;
            yield chunk;
          }
        },
        res,
      );
    } catch {
      res.destroy();
    }
    return { status: 206, bytes: sent };
  }

  /** A short text answer (errors, refusals). */
  #plain(req: http.IncomingMessage, res: http.ServerResponse, status: number, text: string): Served {
    const body = Buffer.from(`${text}\n`, 'utf8');
    res.writeHead(status, {
      'Content-Type': 'text/plain; charset=utf-8',
      'Content-Length': String(body.length),
      'X-Content-Type-Options': 'nosniff',
    });
    if (req.method === 'HEAD') res.end();
    else res.end(body);
    return { status, bytes: req.method === 'HEAD' ? 0 : body.length };
  }
}

/**
 * The request target's path as names (percent-decoded, empty ones dropped), whether it ended
 * with '/', and its query ('?...' or ''). Refused: not an origin-form path, bad percent
 * encoding, NUL, `.` or `..` as a name, a name with '/' encoded in it.
 */
export function requestPath(url: string | undefined): { names: string[]; slash: boolean; query: string } {
  const target = url ?? '';
  if (!target.startsWith('/') || target.length > MAX_PATH_BYTES) throw new BadPath(400, 'bad request path');
  const q = target.search(/[?#]/);
  const path = q < 0 ? target : target.slice(0, q);
  const query = q < 0 || target[q] === '#' ? '' : target.slice(q);
  const names: string[] = [];
  for (const raw of path.split('/')) {
    if (raw === '') continue;
    let name: string;
    try {
      name = decodeURIComponent(raw);
    } catch {
      throw new BadPath(400, 'bad percent-encoding in the path');
    }
    if (name === '.' || name === '..' || name.includes('/') || CONTROL.test(name)) {
      throw new BadPath(400, 'bad request path');
    }
    names.push(name);
  }
  return { names, slash: path.endsWith('/') && names.length > 0, query };
}

/** An ETag from the file's modification time and size, as nginx makes it (weakened when compressed). */
function etagOf(stats: Stats): string {
  return `"${Math.floor(stats.mtimeMs).toString(16)}-${stats.size.toString(16)}"`;
}

function contentType(rel: string): string {
  const type = mime.lookup(rel) || 'application/octet-stream';
  const charset = mime.charset(type);
  return charset ? `${type}; charset=${charset.toLowerCase()}` : type;
}

/** br or gzip when `accept` allows it (q > 0), preferring br; undefined for identity. */
export function chooseEncoding(accept: string | undefined): 'br' | 'gzip' | undefined {
  if (accept === undefined || accept.length > 512) return undefined;
  // Each coding's q, as named; '*' stands for the codings not named (RFC 9110 12.5.3).
  const q = new Map<string, number>();
  for (const item of accept.split(',')) {
    const [coding = '', ...params] = item.trim().toLowerCase().split(';');
    const given = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    const value = given === undefined ? 1 : Number(given.slice(2));
    q.set(coding.trim() === 'x-gzip' ? 'gzip' : coding.trim(), Number.isFinite(value) ? value : 0);
  }
  const wants = (coding: string): boolean => (q.get(coding) ?? q.get('*') ?? 0) > 0;
  return wants('br') ? 'br' : wants('gzip') ? 'gzip' : undefined;
}

/** The framing of a `multipart/byteranges` body: each part's head, the tail, and the whole length. */
function multipart(
  type: string,
  size: number,
  ranges: readonly ByteRange[],
): { boundary: string; heads: Buffer[]; tail: Buffer; length: number } {
  const boundary = randomBytes(12).toString('hex');
  const heads = ranges.map((r) =>
    Buffer.from(
      `\r\n--${boundary}\r\nContent-Type: ${type}\r\nContent-Range: bytes ${r.start}-${r.end}/${size}\r\n\r\n`,
    ),
  );
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  let length = tail.length;
  ranges.forEach((r, i) => {
    length += (heads[i] as Buffer).length + r.end - r.start + 1;
  });
  return { boundary, heads, tail, length };
}

/**
 * `If-Match` (compared strongly: a weak tag never matches, `*` always does) and, without it,
 * `If-Unmodified-Since` (RFC 9110 13.1.1, 13.1.4): true when the request's condition fails (412).
 */
function preconditionFailed(req: http.IncomingMessage, etag: string, lastModified: string): boolean {
  const ifMatch = req.headers['if-match'];
  if (typeof ifMatch === 'string') {
    if (ifMatch.trim() === '*') return false;
    return !ifMatch.split(',').some((tag) => tag.trim() === etag);
  }
  const since = req.headers['if-unmodified-since'];
  if (typeof since !== 'string') return false;
  const at = Date.parse(since);
  return !Number.isNaN(at) && Date.parse(lastModified) > at;
}
