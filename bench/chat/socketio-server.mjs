#!/usr/bin/env node
/**
 * The chat benchmark's Socket.IO 4 peer: a plain Socket.IO server with one room. Every client
 * joins `lobby` on connection (and is told `joined`); each `say` is broadcast to the room's
 * other members with `socket.to('lobby').emit('message', text)`, the idiomatic way.
 * Prints `{"port":N}` on stdout once it listens on 127.0.0.1.
 *
 * usage: node bench/chat/socketio-server.mjs [--port P]
 */
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import { Server } from 'socket.io';

const { values } = parseArgs({ options: { port: { type: 'string', default: '0' } } });
const http = createServer();
const io = new Server(http, { serveClient: false, perMessageDeflate: false });
io.on('connection', (socket) => {
  socket.join('lobby');
  socket.on('say', (text) => {
    if (typeof text === 'string') socket.to('lobby').emit('message', text);
  });
  socket.emit('joined');
});
http.listen(Number(values.port), '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: http.address().port })}\n`);
});
process.once('SIGTERM', () => {
  io.close();
  process.exit(0);
});
