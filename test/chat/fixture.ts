/**
 * A chat server for transport tests: in a temporary folder, a user store with the account
 * `carol` (password `PASSWORD`), the history in the same database, the accounts' log-in, and
 * a self-signed certificate for TLS listeners.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { LoginServer } from '../../src/auth/login-server.js';
import { deriveCredentials } from '../../src/auth/scram.js';
import { openUserStore, type UserStore } from '../../src/auth/store.js';
import { AccountNames } from '../../src/chat/accounts.js';
import type { ChatClient, ClientEvent } from '../../src/chat/client.js';
import { type ChatHistory, openChatHistory } from '../../src/chat/history.js';
import { ChatHub } from '../../src/chat/hub.js';
import { ChatServer } from '../../src/chat/server.js';
import { TEST_ITERATIONS } from '../files/serve.js';
import { selfSignedCertificate } from '../tls.js';

export const PASSWORD = 'correct horse battery staple';

export interface ChatFixture {
  server: ChatServer;
  login: LoginServer;
  store: UserStore;
  history: ChatHistory;
  /** A certificate for 127.0.0.1 (PEM): the server's, and the CA clients trust. */
  cert: Buffer;
  key: Buffer;
  /** Closes the server (every client is told goodbye), the history and the store. */
  close(): Promise<void>;
}

export async function chatFixture(): Promise<ChatFixture> {
  const dir = await mkdtemp(path.join(tmpdir(), 'sockit-chat-'));
  const db = path.join(dir, 'sockit.db');
  const store = await openUserStore(db);
  await store.add('carol', await deriveCredentials(PASSWORD, { iterations: TEST_ITERATIONS }));
  const history = await openChatHistory(db);
  const server = new ChatServer({
    hub: new ChatHub({ accounts: await AccountNames.fromStore(store), lastId: await history.latestId() }),
    history,
  });
  const login = new LoginServer({
    service: 'chat',
    store,
    fakeKey: randomBytes(32),
    minIterations: TEST_ITERATIONS,
  });
  const files = selfSignedCertificate(dir);
  return {
    server,
    login,
    store,
    history,
    cert: await readFile(files.cert),
    key: await readFile(files.key),
    async close() {
      await server.close();
      await history.close();
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The next events of a native client up to the first that `until` accepts (5 s at most). */
export async function collect(
  client: ChatClient,
  until: (e: ClientEvent) => boolean,
): Promise<ClientEvent[]> {
  const seen: ClientEvent[] = [];
  const timer = setTimeout(() => void client.close(), 5000);
  try {
    for await (const event of client) {
      seen.push(event);
      if (until(event)) return seen;
    }
  } finally {
    clearTimeout(timer);
  }
  throw new Error(`the stream ended before the awaited event; seen: ${JSON.stringify(seen)}`);
}
