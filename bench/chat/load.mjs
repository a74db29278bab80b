#!/usr/bin/env node
/**
 * The chat benchmark's load generator, a process of its own: N clients in one room, the first
 * S of them senders, each message a fixed-size text carrying its sender, a sequence number
 * and its send time (this process's clock, in microseconds). For one server it searches the
 * highest offered rate (messages/s over all senders) at which p99 latency stays within the
 * bound and enough is delivered: it doubles the rate until a step fails, then bisects
 * (geometrically) between the last pass and the first failure.
 *
 * A step: send at the rate for --warmup s, then measure --duration s: every message sent in
 * the window should reach the N - 1 other clients (each protocol's own echo to the sender,
 * sockit WebSocket's `echo: true` copy, is counted apart and not as a delivery); deliveries
 * are counted until they are all in or --grace s after the window, then the generator waits
 * for the server to fall quiet before the next step. Latency is receive time minus the send
 * time in the text, in 0.05 ms buckets. The server's CPU time (utime + stime from
 * /proc/PID/stat), its write system calls (syscw, /proc/PID/io) and this process's CPU time
 * are read at the window's edges.
 *
 * Clients connect from 127.0.x.y addresses, 25 to an address (all on loopback), a few at a
 * time, the way many users on many hosts would, and are reconnected before a step when the
 * server dropped some.
 *
 * Prints one JSON line per step and a last line `{"result": ...}` on stdout.
 *
 * usage: node bench/chat/load.mjs --proto irc|ws|sio --port P [--path /chat/ws] --pid PID
 *          [--clients 1000] [--senders 10] [--size 100] [--start 100] [--bisect 3] ...
 */
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { parseArgs } from 'node:util';
import { io as ioClient } from 'socket.io-client';
import { WebSocket } from 'ws';

const { values } = parseArgs({
  options: {
    proto: { type: 'string' },
    port: { type: 'string' },
    path: { type: 'string', default: '/chat/ws' },
    pid: { type: 'string' },
    clients: { type: 'string', default: '1000' },
    senders: { type: 'string', default: '10' },
    size: { type: 'string', default: '100' },
    warmup: { type: 'string', default: '1' },
    duration: { type: 'string', default: '4' },
    grace: { type: 'string', default: '2' },
    start: { type: 'string', default: '50' },
    factor: { type: 'string', default: '2' },
    bisect: { type: 'string', default: '3' },
    'max-steps': { type: 'string', default: '12' },
    'max-rate': { type: 'string', default: '20000' },
    'p99-ms': { type: 'string', default: '100' },
    'min-delivered': { type: 'string', default: '0.99' },
    'per-address': { type: 'string', default: '25' },
    'connect-at-once': { type: 'string', default: '8' },
    rates: { type: 'string' },
  },
});
const PROTO = values.proto;
const PORT = Number(values.port);
const N = Number(values.clients);
const S = Number(values.senders);
const SIZE = Number(values.size);
const SERVER_PID = Number(values.pid);
const P99_MS = Number(values['p99-ms']);
const MIN_DELIVERED = Number(values['min-delivered']);
const PER_ADDRESS = Number(values['per-address']);
if (!['irc', 'ws', 'sio'].includes(PROTO) || !PORT || !SERVER_PID || S > N) {
  console.error('usage: load.mjs --proto irc|ws|sio --port P --pid SERVER_PID [--clients N --senders S]');
  process.exit(2);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const nowUs = () => Math.round(performance.now() * 1000);
const TICKS_PER_S = 100; // CLK_TCK on Linux
function serverCpu() {
  const stat = readFileSync(`/proc/${SERVER_PID}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / TICKS_PER_S;
}
function serverMemKiB() {
  const status = readFileSync(`/proc/${SERVER_PID}/status`, 'utf8');
  const kib = (name) => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  return { rss: kib('VmRSS'), hwm: kib('VmHWM') };
}
/** Write system calls the server made (write, writev, sendmsg: `syscw` of /proc/PID/io). */
function serverWrites() {
  return Number(/syscw:\s+(\d+)/.exec(readFileSync(`/proc/${SERVER_PID}/io`, 'utf8'))?.[1] ?? Number.NaN);
}
const ownCpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};
const localAddress = (i) => {
  const a = Math.floor(i / PER_ADDRESS);
  return `127.0.${1 + Math.floor(a / 250)}.${1 + (a % 250)}`;
};

// --- what the receivers see -------------------------------------------------------------

/** Latency histogram: 0.05 ms buckets up to 10 s, the last bucket for everything later. */
const BUCKET_US = 50;
const hist = new Uint32Array(200_001);
const lo = new Float64Array(S); // the window's first sequence number, per sender
const hi = new Float64Array(S).fill(Number.POSITIVE_INFINITY); // one past its last
const seq = new Float64Array(S); // next sequence number, per sender
const counts = { delivered: 0, echoes: 0, received: 0, other: 0, refused: 0, closed: 0, errors: 0 };
let lastReceiveAt = 0;

/** A text for sender `s`: "s.seq.time." padded to SIZE bytes. */
function makeText(s) {
  const head = `${s}.${seq[s]++}.${nowUs()}.`;
  return head + 'x'.repeat(Math.max(0, SIZE - head.length));
}

/** A message's text reached client `c`. */
function received(c, text) {
  const now = nowUs();
  lastReceiveAt = now;
  const d1 = text.indexOf('.');
  const d2 = text.indexOf('.', d1 + 1);
  const d3 = text.indexOf('.', d2 + 1);
  if (d1 < 0 || d2 < 0 || d3 < 0) {
    counts.other++;
    return;
  }
  const s = Number(text.slice(0, d1));
  if (s === c) {
    counts.echoes++;
    return;
  }
  counts.received++;
  const q = Number(text.slice(d1 + 1, d2));
  if (q >= lo[s] && q < hi[s]) {
    counts.delivered++;
    const b = Math.floor((now - Number(text.slice(d2 + 1, d3))) / BUCKET_US);
    hist[b < hist.length ? (b < 0 ? 0 : b) : hist.length - 1]++;
  }
}

function quantileMs(q, total) {
  if (total === 0) return null;
  const want = Math.ceil(total * q);
  let seen = 0;
  for (let b = 0; b < hist.length; b++) {
    seen += hist[b];
    if (seen >= want) return ((b + 1) * BUCKET_US) / 1000;
  }
  return null;
}

// --- clients, one kind per protocol ----------------------------------------------------

let generation = 0;
const clients = new Array(N).fill(null);

/** IRC: NICK/USER, JOIN #lobby, done at the end of NAMES (366); PRIVMSG to send. */
function ircClient(i, attempt) {
  return new Promise((resolve, reject) => {
    const nick = `b${i.toString(36)}g${generation}${attempt > 1 ? `r${attempt}` : ''}`;
    const socket = net.connect({ host: '127.0.0.1', port: PORT, localAddress: localAddress(i) });
    socket.setNoDelay(true);
    socket.setEncoding('latin1');
    let rest = '';
    let ready = false;
    const client = {
      open: true,
      send(text) {
        socket.write(`PRIVMSG #lobby :${text}\r\n`);
      },
      close() {
        if (ready) socket.end('QUIT :bench over\r\n');
        else socket.destroy();
      },
    };
    const fail = (err) => {
      socket.destroy();
      reject(err);
    };
    socket.on('connect', () => socket.write(`NICK ${nick}\r\nUSER ${nick} 0 * :bench\r\n`));
    socket.on('data', (chunk) => {
      const data = rest + chunk;
      let start = 0;
      for (let end = data.indexOf('\n', start); end >= 0; end = data.indexOf('\n', start)) {
        const line = data.charCodeAt(end - 1) === 13 ? data.slice(start, end - 1) : data.slice(start, end);
        start = end + 1;
        const at = line.indexOf(' PRIVMSG #lobby :');
        if (at > 0) {
          received(i, line.slice(at + 17));
          continue;
        }
        if (line.startsWith('PING')) {
          socket.write(`PONG${line.slice(4)}\r\n`);
          continue;
        }
        if (line.startsWith('ERROR')) {
          counts.errors++;
          continue;
        }
        // ":server NNN ...": the numeric is the second word.
        const sp = line.indexOf(' ');
        const numeric = line.charCodeAt(0) === 58 && sp > 0 ? line.slice(sp + 1, sp + 5) : '';
        if (!ready && numeric === '366 ') {
          ready = true;
          resolve(client);
        } else if (!ready && numeric === '001 ') socket.write('JOIN #lobby\r\n');
        else if (!ready && numeric === '433 ') fail(new Error('nick taken'));
        else if (ready && /^([45]\d\d|263) $/.test(numeric)) counts.refused++; // 263: RPL_TRYAGAIN
      }
      rest = data.slice(start);
    });
    socket.on('error', (err) => {
      if (!ready) fail(err);
    });
    socket.on('close', () => {
      client.open = false;
      if (ready) counts.closed++;
      else fail(new Error('closed before it joined'));
    });
  });
}

/** sockit over WebSocket: hello, nick, join lobby; `say` to send; one JSON event a frame. */
function wsClient(i, attempt) {
  return new Promise((resolve, reject) => {
    const nick = `b${i.toString(36)}g${generation}${attempt > 1 ? `r${attempt}` : ''}`;
    const ws = new WebSocket(`ws://127.0.0.1:${PORT}${values.path}`, {
      localAddress: localAddress(i),
      perMessageDeflate: false,
    });
    let ready = false;
    const client = {
      open: true,
      send(text) {
        ws.send(JSON.stringify({ type: 'say', room: 'lobby', text }));
      },
      close() {
        ws.terminate();
      },
    };
    const fail = (err) => {
      ws.terminate();
      reject(err);
    };
    ws.on('open', () => {
      ws.send(JSON.stringify({ op: 'hello', version: 1 }));
      ws.send(JSON.stringify({ type: 'nick', nick }));
      ws.send(JSON.stringify({ type: 'join', room: 'lobby' }));
    });
    ws.on('message', (data) => {
      const frame = data.toString();
      if (frame.startsWith('{"type":"message"')) {
        const at = frame.indexOf('"text":"');
        if (at > 0) received(i, frame.slice(at + 8, frame.indexOf('"', at + 8)));
        else counts.other++;
      } else if (!ready && frame.startsWith('{"type":"joined"')) {
        ready = true;
        resolve(client);
      } else if (frame.startsWith('{"type":"refused"')) {
        if (!ready) fail(new Error(frame));
        else counts.refused++;
      } else if (frame.startsWith('{"type":"bye"')) counts.errors++;
    });
    ws.on('error', (err) => {
      if (!ready) fail(err);
    });
    ws.on('close', () => {
      client.open = false;
      if (ready) counts.closed++;
      else fail(new Error('closed before it joined'));
    });
  });
}

/** Socket.IO: websocket transport only, a connection (Manager) of its own per client. */
function sioClient(i) {
  return new Promise((resolve, reject) => {
    const socket = ioClient(`http://127.0.0.1:${PORT}`, {
      transports: ['websocket'],
      forceNew: true,
      reconnection: false,
      localAddress: localAddress(i),
      perMessageDeflate: false,
    });
    let ready = false;
    const client = {
      open: true,
      send(text) {
        socket.emit('say', text);
      },
      close() {
        socket.disconnect();
      },
    };
    socket.on('message', (text) => received(i, text));
    socket.on('joined', () => {
      ready = true;
      resolve(client);
    });
    socket.on('connect_error', (err) => {
      if (!ready) {
        socket.disconnect();
        reject(err);
      }
    });
    socket.on('disconnect', () => {
      client.open = false;
      if (ready) counts.closed++;
    });
  });
}

const connectOne = { irc: ircClient, ws: wsClient, sio: sioClient }[PROTO];

/** Connects every client that is not, a few at a time; returns how many were (re)connected. */
/** Why connections had to be tried again: message -> count. */
const retries = new Map();

async function ensureConnected() {
  const missing = [];
  for (let i = 0; i < N; i++) if (!clients[i]?.open) missing.push(i);
  if (missing.length === 0) return 0;
  generation++;
  for (const i of missing) clients[i]?.close();
  let next = 0;
  const worker = async () => {
    while (next < missing.length) {
      const i = missing[next++];
      for (let attempt = 1; ; attempt++) {
        try {
          clients[i] = await connectOne(i, attempt);
          break;
        } catch (err) {
          retries.set(err.message, (retries.get(err.message) ?? 0) + 1);
          if (attempt >= 5) throw new Error(`client ${i} cannot join: ${err.message}`);
          await sleep(200 * attempt);
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Number(values['connect-at-once']) }, worker));
  return missing.length;
}

// --- one step at one offered rate ---------------------------------------------------------

let sendTimer;
function startSending(rate) {
  const perSender = rate / S;
  const t0 = performance.now();
  const base = Array.from(seq);
  const tick = () => {
    const elapsed = (performance.now() - t0) / 1000;
    for (let s = 0; s < S; s++) {
      // Each sender's phase is offset by s/S of its period: together they send evenly spaced,
      // not S messages at the same instant.
      const due = Math.floor(elapsed * perSender + s / S);
      const client = clients[s];
      while (seq[s] - base[s] < due) {
        if (client?.open) client.send(makeText(s));
        else seq[s]++;
      }
    }
  };
  sendTimer = setInterval(tick, 2);
}
function stopSending() {
  clearInterval(sendTimer);
}

async function waitQuiet(quietMs, maxMs) {
  const until = performance.now() + maxMs;
  lastReceiveAt = nowUs();
  while (performance.now() < until) {
    await sleep(50);
    if (nowUs() - lastReceiveAt >= quietMs * 1000) return true;
  }
  return false;
}

async function step(rate) {
  const reconnected = await ensureConnected();
  await waitQuiet(300, 5000);
  const before = { ...counts };
  startSending(rate);
  await sleep(Number(values.warmup) * 1000);
  // The window opens: messages numbered from here on are measured.
  hist.fill(0);
  counts.delivered = 0;
  for (let s = 0; s < S; s++) {
    lo[s] = seq[s];
    hi[s] = Number.POSITIVE_INFINITY;
  }
  const t0 = performance.now();
  const cpu0 = serverCpu();
  const writes0 = serverWrites();
  const own0 = ownCpu();
  await sleep(Number(values.duration) * 1000);
  const seconds = (performance.now() - t0) / 1000;
  const cpu = serverCpu() - cpu0;
  const writes = serverWrites() - writes0;
  const own = ownCpu() - own0;
  let sent = 0;
  for (let s = 0; s < S; s++) {
    hi[s] = seq[s];
    sent += hi[s] - lo[s];
  }
  stopSending();
  const expected = sent * (N - 1);
  const graceUntil = performance.now() + Number(values.grace) * 1000;
  while (counts.delivered < expected && performance.now() < graceUntil) await sleep(20);
  const delivered = counts.delivered;
  const drained = await waitQuiet(300, 10_000);
  const p50 = quantileMs(0.5, delivered);
  const p99 = quantileMs(0.99, delivered);
  const fraction = expected === 0 ? 0 : delivered / expected;
  const closed = counts.closed - before.closed;
  const result = {
    rate,
    sentPerSecond: Math.round(sent / seconds),
    sent,
    expected,
    delivered,
    deliveredFraction: Math.round(fraction * 10_000) / 10_000,
    deliveriesPerSecond: Math.round(delivered / seconds),
    p50ms: p50,
    p99ms: p99,
    serverCpuSeconds: Math.round(cpu * 100) / 100,
    serverCpuShare: Math.round((cpu / seconds) * 100) / 100,
    serverCpuUsPerDelivery: delivered ? Math.round((cpu / delivered) * 1e6 * 1000) / 1000 : null,
    serverWritesPerDelivery: delivered ? Math.round((writes / delivered) * 1000) / 1000 : null,
    loadCpuShare: Math.round((own / seconds) * 100) / 100,
    refused: counts.refused - before.refused,
    closed,
    errors: counts.errors - before.errors,
    reconnected,
    drained,
    serverRssKiB: serverMemKiB().rss,
  };
  result.pass = p99 !== null && p99 <= P99_MS && fraction >= MIN_DELIVERED && closed === 0;
  process.stdout.write(`${JSON.stringify({ step: result })}\n`);
  return result;
}

// --- the search ---------------------------------------------------------------------------

const t0 = performance.now();
await ensureConnected();
const connectSeconds = (performance.now() - t0) / 1000;
const afterConnect = serverMemKiB();
process.stdout.write(
  `${JSON.stringify({ connected: N, seconds: connectSeconds, serverKiB: afterConnect })}\n`,
);

const steps = [];
let best = null;
if (values.rates) {
  for (const rate of values.rates.split(',').map(Number)) {
    const r = await step(rate);
    steps.push(r);
    if (r.pass && (best === null || r.rate > best.rate)) best = r;
  }
} else {
  const factor = Number(values.factor);
  const maxRate = Number(values['max-rate']);
  let pass = 0;
  let fail = null;
  let bisections = 0;
  let rate = Number(values.start);
  for (let n = 0; n < Number(values['max-steps']); n++) {
    const r = await step(rate);
    steps.push(r);
    if (r.pass) {
      pass = rate;
      if (best === null || r.rate > best.rate) best = r;
    } else fail = rate;
    if (fail === null) {
      if (rate >= maxRate) break;
      rate = Math.min(maxRate, Math.round(rate * factor));
    } else if (pass === 0) {
      rate = Math.max(1, Math.round(fail / factor));
      if (rate === fail) break;
    } else {
      if (bisections >= Number(values.bisect)) break;
      bisections++;
      rate = Math.round(Math.sqrt(pass * fail));
      if (rate <= pass || rate >= fail) break;
    }
  }
}
const mem = serverMemKiB();
process.stdout.write(
  `${JSON.stringify({
    result: {
      best,
      steps,
      connectSeconds,
      serverRssAfterConnectKiB: afterConnect.rss,
      serverRssEndKiB: mem.rss,
      serverPeakKiB: mem.hwm,
      totals: counts,
      connectRetries: Object.fromEntries(retries),
    },
  })}\n`,
);
for (const client of clients) client?.close();
setTimeout(() => process.exit(0), 1000).unref();
