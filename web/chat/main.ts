import type { ChatEvent as ServerEvent } from '../../src/chat/protocol.js';
import { parseLine, SLASH_HELP } from '../../src/chat/slash.js';
import { eventLine } from '../../src/chat/text-lines.js';
import { type DerivedKeys, ScramLogin } from '../shared/scram.js';

/**
 * The chat in a browser: a client of the chat's WebSocket transport (`/chat/ws`, one
 * JSON message per frame; see docs/chat.md). Rooms with unread counts, messages with server
 * time, members with presence, typing notices, older messages when scrolled to the top, and
 * reconnection that resumes after the last message seen, so that nothing shows twice. A guest
 * chooses a nick; an account logs in with SCRAM-SHA-256 (scram.ts): the password never leaves
 * the page and is kept nowhere. A guest's nick and the rooms are kept in sessionStorage, so a
 * reloaded page comes back to the same rooms (an account's page asks for the password again).
 */

interface ChatMessage {
  id: string;
  at: number;
  from: string;
  room?: string;
  to?: string;
  text: string;
  action?: boolean;
  mentions?: string[];
  /** A line of this page's own (an answer to a command, a refusal), not a message. */
  note?: true;
}
interface Member {
  nick: string;
  away: boolean;
  op: boolean;
}
type ChatEvent = { type: string; [key: string]: unknown };

interface Room {
  name: string;
  topic: string;
  messages: ChatMessage[];
  ids: Set<string>;
  members: Map<string, Member>;
  unread: number;
  more: boolean;
  typing: Map<string, number>;
}

const TYPING_EVERY_MS = 3000;
const TYPING_SHOWN_MS = 6000;
const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;

const rooms = new Map<string, Room>();
let current = 'lobby';
let nick = sessionStorage.getItem('sockit.nick') ?? '';
let ws: WebSocket | undefined;
let welcomed = false;
let retryMs = 500;
let lastTyping = 0;
/** Tries of a remembered nick still held by the session a reload left (see 'refused'). */
let rejoins = 0;
/** An account log-in under way: its password, until the log-in has used it. */
let login: { user: string; password: string; scram?: ScramLogin } | undefined;
let account: string | undefined;
/** After an account's log-in: its derived keys, in memory only, to log in again on reconnection. */
let again: { user: string; keys: DerivedKeys } | undefined;

function room(name: string): Room {
  let r = rooms.get(name);
  if (r === undefined) {
    r = {
      name,
      topic: '',
      messages: [],
      ids: new Set(),
      members: new Map(),
      unread: 0,
      more: false,
      typing: new Map(),
    };
    rooms.set(name, r);
  }
  return r;
}

/** The newest message from the server in `r` (notes are this page's own). */
function lastMessage(r: Room): ChatMessage | undefined {
  for (let i = r.messages.length - 1; i >= 0; i--) if (!r.messages[i]?.note) return r.messages[i];
  return undefined;
}

function saveRooms(): void {
  // Rooms only: a guest's conversations are not kept by the server to come back to.
  sessionStorage.setItem('sockit.rooms', JSON.stringify([...rooms.keys()].filter((n) => !n.startsWith('@'))));
  sessionStorage.setItem('sockit.current', current);
}

function send(message: Record<string, unknown>): void {
  if (ws?.readyState === WebSocket.OPEN) ws.send(JSON.stringify(message));
}

function connect(): void {
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  const socket = new WebSocket(`${scheme}://${location.host}/chat/ws`);
  ws = socket;
  welcomed = false;
  setState('connecting…');
  socket.onopen = () => socket.send(JSON.stringify({ op: 'hello', version: 1 }));
  socket.onmessage = (e) => {
    let event: ChatEvent;
    try {
      event = JSON.parse(String(e.data)) as ChatEvent;
    } catch {
      return;
    }
    handle(event);
  };
  socket.onclose = () => {
    if (ws !== socket) return;
    setState(`disconnected; trying again in ${Math.round(retryMs / 1000)} s`);
    setTimeout(connect, retryMs);
    retryMs = Math.min(retryMs * 2, 10_000);
  };
}

/** The log-in exchange's answers (`{ok, data}`), which carry no `type`. */
async function logInStep(answer: ChatEvent): Promise<void> {
  const scram = login?.scram;
  if (scram === undefined) return;
  if (answer.ok !== true) {
    login = undefined;
    again = undefined;
    refusedAtEntry(String(answer.message ?? 'the log-in was refused'));
    return;
  }
  if (typeof answer.user !== 'string') {
    try {
      send({ op: 'auth-final', data: await scram.final(String(answer.data)) });
    } catch (err) {
      login = undefined;
      refusedAtEntry((err as Error).message);
    }
    return;
  }
  if (!scram.verify(String(answer.data))) {
    login = undefined;
    refusedAtEntry('the server could not prove it knows the account: not logged in');
    return;
  }
  account = answer.user;
  if (scram.keys !== undefined) again = { user: answer.user, keys: scram.keys };
  login = undefined;
}

function refusedAtEntry(message: string): void {
  $('enter-error').textContent = message;
  $('enter').hidden = false;
  $('app').hidden = true;
  const socket = ws;
  ws = undefined;
  socket?.close();
}

function handle(event: ChatEvent): void {
  if (event.type === undefined && 'ok' in event) {
    void logInStep(event);
    return;
  }
  switch (event.type) {
    case 'hello':
      if (login === undefined && again !== undefined) login = { user: again.user, password: '' };
      if (login !== undefined) {
        login.scram = new ScramLogin(login.user, again?.keys ?? login.password);
        login.password = '';
        send({ op: 'auth', mechanism: 'SCRAM-SHA-256', data: login.scram.first() });
      } else send({ type: 'nick', nick });
      return;
    case 'welcome': {
      welcomed = true;
      retryMs = 500;
      nick = String(event.nick);
      // A guest comes back by nick after a reload; an account gives its password again.
      if (account === undefined) sessionStorage.setItem('sockit.nick', nick);
      else sessionStorage.removeItem('sockit.nick');
      setState(account === undefined ? `as ${nick}` : `as ${nick} (account)`);
      $('enter').hidden = true;
      $('app').hidden = false;
      // Back in every room, each from after the last message shown: nothing twice.
      for (const r of rooms.values()) {
        if (r.name.startsWith('@')) continue;
        const last = lastMessage(r)?.id;
        send(
          last === undefined ? { type: 'join', room: r.name } : { type: 'join', room: r.name, after: last },
        );
      }
      render();
      return;
    }
    case 'joined': {
      const info = event.room as { name: string; topic: string };
      const r = room(info.name);
      r.topic = info.topic;
      r.members = new Map((event.members as Member[]).map((m) => [m.nick, m]));
      saveRooms();
      render();
      return;
    }
    case 'history': {
      if (typeof event.room !== 'string') return;
      const r = room(event.room);
      const oldest = r.messages[0]?.id;
      const messages = (event.messages as ChatMessage[]).filter((m) => !r.ids.has(m.id));
      for (const m of messages) r.ids.add(m.id);
      r.messages = [...r.messages, ...messages].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
      // A page that reaches further back says whether there is more before it.
      const first = messages[0];
      if (oldest === undefined || (first !== undefined && first.id < oldest)) r.more = event.more === true;
      render();
      return;
    }
    case 'message': {
      const m = event.message as ChatMessage;
      // A direct message lands in the conversation with the other person, '@nick'.
      const key = m.room ?? `@${m.from === nick ? m.to : m.from}`;
      if (key === '@undefined') return;
      const r = room(key);
      if (r.ids.has(m.id)) return;
      r.ids.add(m.id);
      r.messages.push(m);
      r.typing.delete(m.from);
      if (r.name !== current) r.unread++;
      render();
      return;
    }
    case 'join': {
      const member = event.member as Member;
      room(String(event.room)).members.set(member.nick, member);
      render();
      return;
    }
    case 'part':
    case 'kick': {
      const name = String(event.room);
      if (event.nick === nick) {
        // Out of the room: it leaves the list (with a line saying why, when put out).
        rooms.delete(name);
        if (current === name) current = [...rooms.keys()][0] ?? 'lobby';
        saveRooms();
        if (event.type === 'kick') note(eventLine(event as unknown as ServerEvent) ?? 'put out of the room');
        render();
        return;
      }
      room(name).members.delete(String(event.nick));
      if (event.type === 'kick') note(eventLine(event as unknown as ServerEvent) ?? '', name);
      render();
      return;
    }
    case 'op': {
      const member = room(String(event.room)).members.get(String(event.nick));
      if (member) member.op = event.op === true;
      note(eventLine(event as unknown as ServerEvent) ?? '', String(event.room));
      return;
    }
    case 'nick': {
      const old = String(event.old);
      const renamed = String(event.nick);
      for (const r of rooms.values()) {
        const member = r.members.get(old);
        if (member === undefined) continue;
        r.members.delete(old);
        r.members.set(renamed, { ...member, nick: renamed });
      }
      if (old === nick) {
        nick = renamed;
        if (account === undefined) sessionStorage.setItem('sockit.nick', nick);
        setState(account === undefined ? `as ${nick}` : `as ${nick} (account)`);
      }
      note(eventLine(event as unknown as ServerEvent) ?? '');
      return;
    }
    case 'ban':
    case 'rooms':
    case 'members':
    case 'bans':
    case 'whois': {
      // Answers to commands, and what operators did: a line in the conversation shown.
      const text = eventLine(event as unknown as ServerEvent);
      if (text !== undefined) for (const part of text.split('\n')) note(part);
      return;
    }
    case 'quit':
      for (const r of rooms.values()) r.members.delete(String(event.nick));
      render();
      return;
    case 'presence':
      for (const r of rooms.values()) {
        const m = r.members.get(String(event.nick));
        if (m) m.away = event.away !== undefined;
      }
      render();
      return;
    case 'topic':
      room(String(event.room)).topic = String(event.topic);
      render();
      return;
    case 'typing': {
      if (typeof event.room !== 'string') return;
      const r = room(event.room);
      if (event.active === true) r.typing.set(String(event.nick), Date.now() + TYPING_SHOWN_MS);
      else r.typing.delete(String(event.nick));
      renderTyping();
      return;
    }
    case 'refused':
      if (
        !welcomed &&
        event.code === 'ERR_NICK_IN_USE' &&
        rejoins < 5 &&
        sessionStorage.getItem('sockit.nick') === nick
      ) {
        // A reloaded page: the session it left may take a moment to go.
        rejoins++;
        setTimeout(() => send({ type: 'nick', nick }), 500);
        return;
      }
      if (!welcomed) {
        refusedAtEntry(String(event.message));
        return;
      }
      note(String(event.message));
      return;
    case 'bye':
      note(String(event.reason ?? 'the server closed the connection'));
      return;
  }
}

function setState(text: string): void {
  $('state').textContent = text;
}

let notes = 0;

/**
 * A line of this page's own in `where` (default: the conversation shown), kept among its
 * messages: right after the newest one, so that it stays where it was said.
 */
function note(text: string, where = current): void {
  if (text === '') return;
  const r = room(where);
  const after = lastMessage(r)?.id ?? '';
  notes++;
  r.messages.push({
    id: `${after}~${String(notes).padStart(8, '0')}`,
    at: Date.now(),
    from: '',
    text,
    note: true,
  });
  render();
}

function render(): void {
  const r = room(current);
  r.unread = 0;
  const list = $('rooms');
  list.replaceChildren(
    ...[...rooms.values()].map((x) => {
      const li = document.createElement('li');
      const b = document.createElement('button');
      b.type = 'button';
      b.textContent = label(x.name);
      b.setAttribute('aria-current', String(x.name === current));
      if (x.unread > 0) {
        const badge = document.createElement('span');
        badge.className = 'unread';
        badge.textContent = String(x.unread);
        badge.setAttribute('aria-label', `${x.unread} unread`);
        b.append(badge);
      }
      b.onclick = () => {
        current = x.name;
        saveRooms();
        render();
        $('say').focus();
      };
      li.append(b);
      return li;
    }),
  );
  $('room-title').textContent = label(r.name);
  $('topic').textContent = r.topic;
  const box = $('messages');
  const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
  box.replaceChildren(...r.messages.map(line));
  if (atBottom) box.scrollTop = box.scrollHeight;
  $('members').replaceChildren(
    ...[...r.members.values()]
      .sort((a, b) => a.nick.localeCompare(b.nick))
      .map((m) => {
        const li = document.createElement('li');
        li.textContent = `${m.op ? '@' : ''}${m.nick}${m.away ? ' (away)' : ''}`;
        if (m.away) li.className = 'away';
        return li;
      }),
  );
  renderTyping();
}

/** `#room`, or `@nick` for a conversation with one person. */
function label(name: string): string {
  return name.startsWith('@') ? name : `#${name}`;
}

function line(m: ChatMessage): HTMLLIElement {
  const li = document.createElement('li');
  if (m.note) {
    li.className = 'note';
    li.textContent = m.text;
    return li;
  }
  li.dataset.id = m.id;
  const time = document.createElement('time');
  time.dateTime = new Date(m.at).toISOString();
  time.textContent = new Date(m.at).toTimeString().slice(0, 5);
  const from = document.createElement('span');
  from.className = 'from';
  from.textContent = m.action ? `* ${m.from}` : `${m.from}:`;
  const text = document.createElement('span');
  text.className = 'text';
  text.textContent = m.text;
  if (m.mentions?.some((x) => x.toLowerCase() === nick.toLowerCase())) li.classList.add('mention');
  li.append(time, from, text);
  return li;
}

function renderTyping(): void {
  const r = room(current);
  const now = Date.now();
  for (const [who, until] of r.typing) if (until <= now || who === nick) r.typing.delete(who);
  const who = [...r.typing.keys()];
  $('typing').textContent =
    who.length === 0 ? '' : `${who.join(', ')} ${who.length === 1 ? 'is' : 'are'} typing…`;
}

$('enter').addEventListener('submit', (e) => {
  e.preventDefault();
  nick = ($('nick') as HTMLInputElement).value.trim();
  const field = $('password') as HTMLInputElement;
  login = field.value === '' ? undefined : { user: nick, password: field.value };
  field.value = '';
  account = undefined;
  again = undefined;
  $('enter-error').textContent = '';
  if (rooms.size === 0) room('lobby');
  connect();
});

$('say-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const input = $('say') as HTMLInputElement;
  const text = input.value;
  if (text.trim() === '') return;
  input.value = '';
  // The commands of every sockit chat client (src/chat/slash.ts); in a conversation with one
  // person, what would go to a room goes to that person.
  const parsed = parseLine(text, current);
  if ('help' in parsed) {
    for (const part of SLASH_HELP.split('\n')) note(part);
    return;
  }
  if ('error' in parsed) {
    note(parsed.error);
    return;
  }
  if ('quit' in parsed) {
    leave();
    return;
  }
  const command = parsed.command;
  switch (command.type) {
    case 'join': {
      const name = command.room.replace(/^#/, '');
      current = name;
      room(name);
      send({ type: 'join', room: name });
      saveRooms();
      render();
      return;
    }
    case 'dm':
      // A conversation with one person, opened by its first message.
      current = `@${command.to}`;
      room(current);
      render();
      break;
    case 'say':
      if (current.startsWith('@')) {
        send({
          type: 'dm',
          to: current.slice(1),
          text: command.text,
          ...(command.action ? { action: true } : {}),
        });
        return;
      }
      break;
    case 'part':
      if (command.room.startsWith('@')) {
        // Closing a conversation with one person: nothing to tell the server.
        rooms.delete(command.room);
        current = [...rooms.keys()][0] ?? 'lobby';
        render();
        return;
      }
      break;
  }
  send(command as unknown as Record<string, unknown>);
});

/** `/quit`: leaves the chat, back to the entry form, forgetting this tab's nick and rooms. */
function leave(): void {
  const socket = ws;
  ws = undefined;
  socket?.close(1000, 'quit');
  welcomed = false;
  again = undefined;
  account = undefined;
  rooms.clear();
  current = 'lobby';
  sessionStorage.removeItem('sockit.nick');
  sessionStorage.removeItem('sockit.rooms');
  sessionStorage.removeItem('sockit.current');
  setState('left the chat');
  $('app').hidden = true;
  $('enter').hidden = false;
}

$('say').addEventListener('input', () => {
  const now = Date.now();
  // A command being typed is not a message on its way.
  if ($<HTMLInputElement>('say').value.startsWith('/')) return;
  if (now - lastTyping < TYPING_EVERY_MS || current.startsWith('@')) return;
  lastTyping = now;
  send({ type: 'typing', room: current, active: true });
});

$('join-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const input = $('join-room') as HTMLInputElement;
  const name = input.value.trim().replace(/^#/, '');
  input.value = '';
  if (name === '') return;
  current = name;
  room(name);
  send({ type: 'join', room: name });
  saveRooms();
  render();
});

// Older messages when scrolled to the top.
$('messages').addEventListener('scroll', () => {
  const r = room(current);
  const first = r.messages.find((m) => !m.note);
  if ($('messages').scrollTop === 0 && r.more && first !== undefined) {
    r.more = false;
    send({ type: 'history', room: r.name, before: first.id, limit: 50 });
  }
});

setInterval(renderTyping, 1000);

// A reload comes back as the same nick, to the same rooms.
const saved = JSON.parse(sessionStorage.getItem('sockit.rooms') ?? '[]') as string[];
for (const name of saved) room(name);
const was = sessionStorage.getItem('sockit.current');
if (was !== null && !was.startsWith('@')) current = was;
if (nick !== '') {
  if (rooms.size === 0) room('lobby');
  ($('nick') as HTMLInputElement).value = nick;
  connect();
}
