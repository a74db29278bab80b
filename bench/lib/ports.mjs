/** Ports for the benchmarks' servers: a free one to give a server, and waiting until it listens. */
import net from 'node:net';

/** A TCP port on 127.0.0.1 that nothing listens on (it was free a moment ago). */
export function freePort() {
  return new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Resolves once a connection to 127.0.0.1:`port` succeeds; rejects after `timeoutMs`. */
export function waitForPort(port, timeoutMs = 10_000) {
  const until = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve();
      });
      s.on('error', () => {
        if (Date.now() > until) reject(new Error(`nothing listens on ${port}`));
        else setTimeout(attempt, 25);
      });
    };
    attempt();
  });
}
