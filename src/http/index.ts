/**
 * `sockit/http`: a static file server (HTTP/1.1 on Node's parser, under the shared server
 * guard and path confinement).
 *
 * @example
 * ```ts
 * import { serveHttp } from 'sockit/http';
 * const web = await serveHttp({ root: 'public', host: '127.0.0.1', port: 8080, spa: true });
 * // later: await web.close();
 * ```
 */
export { HTTP_PORT, type HttpServeOptions, type HttpService, serveHttp } from './serve.js';
export { chooseEncoding, requestPath, type Served, StaticFiles, type StaticOptions } from './static.js';
