/**
 * The live dashboard of `sockit serve`: `/api/events` (server-sent events, the status every
 * second) drawn as tables and, over the last five minutes, charts of the connections open,
 * new connections per second and bytes per second moved by transfers.
 *
 * Read-only, until an account with the admin grant logs in (SCRAM in two POSTs to
 * `/api/login`, see src/http/admin.ts; the password never leaves the page): its events then
 * carry each user's file usage and the last log lines, and transfers and chat users get a
 * button to stop or disconnect them.
 */

import type { AdminView, Status } from '../../src/http/status-types.js';
import { visible } from '../../src/runtime/text.js';
import { formatBytes } from '../../src/runtime/units.js';
import { ScramLogin } from '../shared/scram.js';

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

/** The admin view of the last event, when logged in. */
let admin: AdminView | undefined;

function button(label: string, title: string, action: () => Promise<void>): HTMLButtonElement {
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = label;
  b.title = title;
  b.addEventListener('click', () => {
    b.disabled = true;
    void action().finally(() => {
      b.disabled = false;
    });
  });
  return b;
}

/** POSTs JSON to this server; the answer's body, and whether it was a success. */
async function post(url: string, body: unknown): Promise<{ ok: boolean; body: Record<string, unknown> }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
    credentials: 'same-origin',
  });
  const answer = (await res.json().catch(() => ({}))) as Record<string, unknown>;
  return { ok: res.ok && answer.ok === true, body: answer };
}

function say(text: string): void {
  $('admin-note').textContent = text;
}

async function act(url: string, body: unknown, done: string): Promise<void> {
  const { ok, body: answer } = await post(url, body);
  say(ok ? done : String(answer.message ?? 'refused'));
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
      x.state,
      x.connections === undefined ? '' : String(x.connections),
    ]),
    [undefined, undefined, undefined, undefined, 'n'],
  );
  admin = s.admin;
  const stop = admin?.can.stopTransfer === true;
  const kick = admin?.can.disconnect === true;
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
        stop
          ? button('Stop', `stop sending ${t.file} to ${t.client}`, () =>
              act(
                '/api/admin/stop-transfer',
                { service: t.service, client: t.client },
                `stopped ${t.file} for ${t.client}`,
              ),
            )
          : '',
      ];
    }),
  );
  rows(
    'rooms',
    s.rooms.map((r) => {
      const members = document.createElement('span');
      r.members.forEach((nick, i) => {
        if (i > 0) members.append(', ');
        members.append(nick);
        if (kick) {
          members.append(
            button('×', `disconnect ${nick} from the chat`, async () => {
              if (confirm(`Disconnect ${nick} from the chat?`))
                await act('/api/admin/disconnect', { nick }, `disconnected ${nick}`);
            }),
          );
        }
      });
      return [`#${r.name}`, r.topic, members];
    }),
    [undefined, undefined, 'members'],
  );
  drawAdmin(admin);
  $('state').textContent = `live, ${new Date(at).toLocaleTimeString()}`;
}

function drawAdmin(view: AdminView | undefined): void {
  ($('admin') as HTMLElement).hidden = view === undefined;
  ($('login-open') as HTMLButtonElement).hidden = view !== undefined;
  ($('logout') as HTMLButtonElement).hidden = view === undefined;
  $('who').textContent = view === undefined ? '' : `${view.user} (admin)`;
  if (view === undefined) return;
  rows(
    'users',
    view.users.map((u) => {
      const quota =
        u.quotaBytes === null
          ? 'default'
          : u.quotaBytes === 'unlimited'
            ? 'unlimited'
            : formatBytes(u.quotaBytes);
      const used = document.createElement('span');
      if (typeof u.quotaBytes === 'number' && u.quotaBytes > 0 && u.usageBytes !== null) {
        const bar = document.createElement('progress');
        bar.max = u.quotaBytes;
        bar.value = Math.min(u.usageBytes, u.quotaBytes);
        used.append(bar);
      }
      used.append(u.usageBytes === null ? 'not counted yet' : formatBytes(u.usageBytes));
      return [u.name, used, quota];
    }),
  );
  $('user-count').textContent =
    view.userCount > view.users.length
      ? `(${view.users.length} of ${view.userCount} users, most used first)`
      : `(${view.userCount} ${view.userCount === 1 ? 'user' : 'users'})`;
  const log = $('log');
  const atEnd = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
  log.replaceChildren(
    ...view.log.map((entry) => {
      const line = document.createElement('div');
      line.className = `log-${entry.level}`;
      // Every value from the other side written so that it cannot pass for a line of its own.
      const fields = Object.entries(entry.fields)
        .map(([k, v]) => `${visible(k, 64)}=${visible(typeof v === 'string' ? v : JSON.stringify(v), 512)}`)
        .join(' ');
      const time = entry.time > 0 ? new Date(entry.time).toLocaleTimeString() : '';
      line.textContent = `${time} ${entry.level.toUpperCase().padEnd(5)} ${visible(entry.msg, 512)}${fields ? ` ${fields}` : ''}`;
      return line;
    }),
  );
  if (atEnd) log.scrollTop = log.scrollHeight;
}

let events: EventSource | undefined;

/** Follows the status; again after a log-in or log-out, whose cookie the events then carry. */
function follow(): void {
  events?.close();
  events = new EventSource('/api/events');
  events.onmessage = (e) => draw(JSON.parse(String(e.data)) as Status);
  // EventSource reconnects by itself; say so meanwhile.
  events.onerror = () => {
    $('state').textContent = 'reconnecting…';
  };
}

async function logIn(user: string, password: string): Promise<string | undefined> {
  const scram = new ScramLogin(user, password);
  const first = await post('/api/login', { op: 'auth', mechanism: 'SCRAM-SHA-256', data: scram.first() });
  if (!first.ok) return String(first.body.message ?? 'log-in refused');
  const final = await post('/api/login', {
    op: 'auth-final',
    sid: first.body.sid,
    data: await scram.final(String(first.body.data)),
  });
  if (!final.ok) return String(final.body.message ?? 'log-in refused');
  if (!scram.verify(String(final.body.data))) return 'the server could not prove that it knows the account';
  return undefined;
}

const form = $('login') as HTMLFormElement;
$('login-open').addEventListener('click', () => {
  form.hidden = false;
  ($('login-user') as HTMLInputElement).focus();
});
$('login-cancel').addEventListener('click', () => {
  form.hidden = true;
});
form.addEventListener('submit', (e) => {
  e.preventDefault();
  const user = ($('login-user') as HTMLInputElement).value.trim();
  const password = $('login-password') as HTMLInputElement;
  const submit = form.querySelector('button[type=submit]') as HTMLButtonElement;
  submit.disabled = true;
  $('login-error').textContent = 'logging in…';
  void logIn(user, password.value)
    .catch((err: unknown) => (err instanceof Error ? err.message : 'log-in failed'))
    .then((error) => {
      submit.disabled = false;
      password.value = '';
      $('login-error').textContent = error ?? '';
      if (error === undefined) {
        form.hidden = true;
        follow();
      }
    });
});
$('logout').addEventListener('click', () => {
  void post('/api/logout', {}).then(() => {
    drawAdmin(undefined);
    follow();
  });
});

follow();
