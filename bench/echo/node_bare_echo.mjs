// The least a Node echo server can do: the reference for what the runtime adds on top.
import net from 'node:net';

const [host = '127.0.0.1', port = '0'] = process.argv.slice(2);
const server = net.createServer({ noDelay: true }, (socket) => {
  socket.on('data', (chunk) => {
    if (!socket.write(chunk)) socket.pause();
  });
  socket.on('drain', () => socket.resume());
  socket.on('error', () => {});
});
server.listen(Number(port), host, () => console.log(server.address().port));
