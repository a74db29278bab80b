/** A TCP listener, a UDP socket and a connected TCP pair on 127.0.0.1, for socket-table tests. */
import dgram from 'node:dgram';
import { once } from 'node:events';
import net, { type AddressInfo } from 'node:net';

export interface SocketSet {
  server: net.Server;
  udp: dgram.Socket;
  client: net.Socket;
  accepted: net.Socket;
  tcpPort: number;
  udpPort: number;
  clientPort: number;
  close(): Promise<void>;
}

export async function openSocketSet(options: { allowHalfOpen?: boolean } = {}): Promise<SocketSet> {
  const allowHalfOpen = options.allowHalfOpen ?? false;
  const server = net.createServer({ allowHalfOpen });
  const udp = dgram.createSocket('udp4');
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const tcpPort = (server.address() as AddressInfo).port;
  udp.bind(0, '127.0.0.1');
  await once(udp, 'listening');
  const connection = once(server, 'connection');
  const client = net.connect({ host: '127.0.0.1', port: tcpPort, allowHalfOpen });
  await once(client, 'connect');
  const [accepted] = (await connection) as [net.Socket];
  return {
    server,
    udp,
    client,
    accepted,
    tcpPort,
    udpPort: udp.address().port,
    clientPort: client.localPort ?? 0,
    async close() {
      client.destroy();
      accepted.destroy();
      udp.close();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
