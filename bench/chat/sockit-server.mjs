#!/usr/bin/env node
/**
 * `sockit chat serve` for the chat benchmark, through the library (`serveChat`) with the same
 * options the command passes, and one more the command has no flag for: the hub's
 * per-session rate limit (`limits.burst`, `limits.refillMs`; 20 then one per 500 ms by
 * default, 2 messages/s per sender). Logs as `sockit --log-format json chat serve` does, and
 * prints `{"port":N,"ircPort":M}` on stdout once it listens on 127.0.0.1.
 *
 * usage: node bench/chat/sockit-server.mjs --data-dir DIR [--burst N --refill-ms MS]
 *          [--max-connections N] [--max-per-address N]
 */
import path from 'node:path';
import { parseArgs } from 'node:util';

const root = path.resolve(import.meta.dirname, '../..');
const { values } = parseArgs({
  options: {
    'data-dir': { type: 'string' },
    burst: { type: 'string' },
    'refill-ms': { type: 'string' },
    'max-connections': { type: 'string', default: '1024' },
    'max-per-address': { type: 'string', default: '32' },
  },
});
if (!values['data-dir']) throw new Error('--data-dir is required');
const dataDir = values['data-dir'];
const [{ serveChat }, { defaultDatabase, openUserStore }, { loadFakeKey }, { createLogger }] =
  await Promise.all([
    import(path.join(root, 'dist/chat/index.js')),
    import(path.join(root, 'dist/auth/index.js')),
    import(path.join(root, 'dist/files/index.js')),
    import(path.join(root, 'dist/runtime/index.js')),
  ]);
const log = createLogger({ level: 'info', pretty: false });
const limits = {};
if (values.burst) limits.burst = Number(values.burst);
if (values['refill-ms']) limits.refillMs = Number(values['refill-ms']);
const database = defaultDatabase(dataDir);
const store = await openUserStore(database);
const chat = await serveChat({
  store,
  history: database,
  fakeKey: await loadFakeKey(dataDir),
  host: '127.0.0.1',
  port: 0,
  udp: false,
  ircPort: 0,
  maxConnections: Number(values['max-connections']),
  maxPerAddress: Number(values['max-per-address']),
  limits,
  log,
});
process.stdout.write(
  `${JSON.stringify({ port: chat.address.port, ircPort: chat.others[0].address.port, limits: chat.server.hub.limits })}\n`,
);
process.once('SIGTERM', async () => {
  await chat.close();
  await store.close();
  process.exit(0);
});
