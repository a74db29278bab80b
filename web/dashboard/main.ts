/**
 * The live dashboard of `sockit serve`: `/api/events` (server-sent events, the status every
 * second) drawn as tables and, over the last five minutes, charts of the connections open,
 * new connections per second and bytes per second moved by transfers. Read-only.
 */

import { formatBytes } from '../../src/runtime/units.js';

interface Status {
  time: string;
  services: { name: string; protocol: string; address: string; port: number; connections?: number }[];
  transfers: Record<string, number>;
  active: {
    service: string;
    file: string;
    client: string;
    direction: string;
    bytes: number;
    size?: number;
    seconds: number;
  }[];
  rooms: { name: string; topic: string; members: string[] }[];
  totals: { connections: number; transferBytes: number };
}

const WINDOW = 300;
const $ = (id: string): HTMLElement => document.getElementById(id) as HTMLElement;
const series = { connections: [] as number[], accepts: [] as number[], bytes: [] as number[] };
let previous: { at: number; connections: number; bytes: number } | undefined;

/** A table body's rows from cells of text (never HTML). */
function rows(table: string, data: (string | Node)[][], classes: (string | undefined)[] = []): void {
  const body = document.querySelector(`#${table} tbody`) as HTMLElement;
  body.replaceChildren(
    ...data.map((cells) => {
      const tr = document.createElement('tr');
      cells.forEach((cell, i) => {
        const td = document.createElement('td');
        const cls = classes[i];
        if (cls !== undefined) td.className = cls;
        td.append(cell);
        tr.append(td);
      });
      return tr;
    }),
  );
}

function chart(id: string, values: number[]): void {
  const max = Math.max(1, ...values);
  // The newest point at the right edge; five minutes span the width.
  const x = (i: number): number => 300 - ((values.length - 1 - i) * 300) / (WINDOW - 1);
  const points = values.map((v, i) => `${x(i).toFixed(1)},${(58 - (v / max) * 56).toFixed(1)}`).join(' ');
  (document.querySelector(`#${id} polyline`) as SVGPolylineElement).setAttribute('points', points);
}

function push(list: number[], value: number): void {
  list.push(value);
  if (list.length > WINDOW) list.shift();
}

function draw(s: Status): void {
  const at = Date.parse(s.time);
  const open = s.services.reduce((sum, x) => sum + (x.connections ?? 0), 0);
  const moved = s.totals.transferBytes + s.active.reduce((sum, t) => sum + t.bytes, 0);
  if (previous !== undefined && at > previous.at) {
    const seconds = (at - previous.at) / 1000;
    push(series.accepts, Math.max(0, (s.totals.connections - previous.connections) / seconds));
    push(series.bytes, Math.max(0, (moved - previous.bytes) / seconds));
  }
  previous = { at, connections: s.totals.connections, bytes: moved };
  push(series.connections, open);
  chart('chart-connections', series.connections);
  chart('chart-accepts', series.accepts);
  chart('chart-bytes', series.bytes);
  $('now-connections').textContent = String(open);
  $('now-accepts').textContent = (series.accepts.at(-1) ?? 0).toFixed(1);
  $('now-bytes').textContent = `${formatBytes(series.bytes.at(-1) ?? 0)}/s`;
  rows(
    'services',
    s.services.map((x) => [
      x.name,
      x.protocol,
      `${x.address}:${x.port}`,
      x.connections === undefined ? '' : String(x.connections),
    ]),
    [undefined, undefined, undefined, 'n'],
  );
  rows(
    'transfers',
    s.active.map((t) => {
      const moved = document.createElement('span');
      if (t.size) {
        const bar = document.createElement('progress');
        bar.max = t.size;
        bar.value = t.bytes;
        moved.append(bar);
      }
      moved.append(
        `${formatBytes(t.bytes)}${t.size ? ` of ${formatBytes(t.size)} (${Math.floor((100 * t.bytes) / t.size)}%)` : ''}`,
      );
      return [
        t.service,
        t.file,
        t.client,
        t.direction === 'out' ? 'download' : 'upload',
        moved,
        t.seconds > 0 ? `${formatBytes(t.bytes / t.seconds)}/s` : '',
      ];
    }),
  );
  rows(
    'rooms',
    s.rooms.map((r) => [`#${r.name}`, r.topic, r.members.join(', ')]),
    [undefined, undefined, 'members'],
  );
  $('state').textContent = `live, ${new Date(at).toLocaleTimeString()}`;
}

function follow(): void {
  const events = new EventSource('/api/events');
  events.onmessage = (e) => draw(JSON.parse(String(e.data)) as Status);
  // EventSource reconnects by itself; say so meanwhile.
  events.onerror = () => {
    $('state').textContent = 'reconnecting…';
  };
}

follow();
