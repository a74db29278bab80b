/** A TFTP download that stays in progress: it acknowledges the first blocks, then goes quiet. */
import dgram from 'node:dgram';

/**
 * Asks `file` of the server on 127.0.0.1:`port` (octet mode, tsize), acknowledges the first
 * `blocks` DATA packets, then nothing more: the server keeps the transfer open (resending)
 * until its retries run out. Resolves once the last acknowledgement left; close the socket
 * when done.
 */
export async function stalledTftpRead(port: number, file: string, blocks = 3): Promise<dgram.Socket> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return new Promise((resolve, reject) => {
    let acked = 0;
    socket.on('error', reject);
    socket.on('message', (msg, from) => {
      const opcode = msg.readUInt16BE(0);
      if (opcode === 6) {
        // OACK: acknowledge it with block 0.
        socket.send(Buffer.from([0, 4, 0, 0]), from.port, from.address);
        return;
      }
      if (opcode !== 3 || acked >= blocks) return;
      const block = msg.readUInt16BE(2);
      socket.send(Buffer.from([0, 4, block >> 8, block & 0xff]), from.port, from.address);
      acked = Math.max(acked, block);
      if (acked >= blocks) resolve(socket);
    });
    const rrq = Buffer.concat([Buffer.from([0, 1]), Buffer.from(`${file}\0octet\0tsize\x000\0`, 'latin1')]);
    socket.send(rrq, port, '127.0.0.1');
  });
}
