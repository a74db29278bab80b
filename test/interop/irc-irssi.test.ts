/**
 * IRC interop: a real irssi, driven in tmux, against the chat's IRC transport. It connects,
 * joins #lobby, is shown the scrollback, and talks both ways (messages, /me, a private
 * message) with a raw IRC client in the same hub. What irssi shows is read from its own logs
 * (autolog); what it sends is read by the raw client. scripts/interop-tools.sh installs irssi
 * and tmux.
 */
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type IrcClient, type IrcFixture, ircFixture, untagged } from '../irc.js';

const FIX = 'run scripts/interop-tools.sh (as root) to install irssi and tmux';

let f: IrcFixture;
let dir: string;
let tmuxSocket: string;
let ann: IrcClient;

function tmux(...args: string[]): string {
  const result = spawnSync('tmux', ['-S', tmuxSocket, ...args], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`tmux ${args.join(' ')} failed: ${result.stderr}`);
  return result.stdout;
}

/** Types a line into irssi, as a person would, and presses Enter. */
function type(line: string): void {
  tmux('send-keys', '-t', 'irc', '-l', line);
  tmux('send-keys', '-t', 'irc', 'Enter');
}

/** What irssi logged for `target` (`#lobby`, a nick), lower-cased file names as irssi makes them. */
function logOf(target: string): string {
  const logs = path.join(dir, 'logs');
  if (!existsSync(logs)) return '';
  const file = readdirSync(logs).find((name) => name.toLowerCase() === `${target.toLowerCase()}.log`);
  return file === undefined ? '' : readFileSync(path.join(logs, file), 'utf8');
}

/** Waits, a bounded time, for something irssi does; says what was on its screen if it never happens. */
async function waitFor(what: string, done: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) {
      const screen = tmux('capture-pane', '-p', '-t', 'irc');
      throw new Error(`irssi: ${what} did not happen; its screen:\n${screen}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('irssi against the IRC transport', () => {
  beforeAll(async () => {
    for (const tool of ['irssi', 'tmux']) {
      if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) throw new Error(`no ${tool}; ${FIX}`);
    }
    dir = mkdtempSync(path.join(os.tmpdir(), 'sockit-irssi-'));
    tmuxSocket = path.join(dir, 'tmux.sock');
    mkdirSync(path.join(dir, 'home'));
    writeFileSync(
      path.join(dir, 'home', 'config'),
      `settings = {
  core = { real_name = "irssi interop"; user_name = "irssi"; nick = "irssiuser"; settings_autosave = "no"; };
  "irc/core" = { cmd_queue_speed = "0msec"; cmds_max_at_once = "100"; };
  "fe-common/core" = { autolog = "yes"; autolog_path = "${dir}/logs/$0.log"; autolog_level = "all"; };
};
`,
    );
    f = await ircFixture({ history: true });
    ann = await f.guest('ann', ['server-time']);
    await ann.join('#lobby');
    ann.send('PRIVMSG #lobby :said before irssi came');
    await ann.settled();
    const irssi = `irssi --home=${dir}/home -c 127.0.0.1 -p ${f.port} -n irssiuser`;
    tmux('new-session', '-d', '-s', 'irc', '-x', '160', '-y', '48', irssi);
  });

  afterAll(async () => {
    if (tmuxSocket && existsSync(tmuxSocket)) spawnSync('tmux', ['-S', tmuxSocket, 'kill-server']);
    await f?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('connects, joins #lobby and is shown the scrollback', async () => {
    await waitFor('registration', () => f.server.hub.userCount === 2);
    type('/join #lobby');
    await ann.expect(':irssiuser!irssiuser@irc.sockit JOIN #lobby');
    await waitFor('the scrollback shown', () => logOf('#lobby').includes('said before irssi came'));
    expect(logOf('#lobby')).toMatch(/<\s*ann> said before irssi came/);
  });

  it('sends what is typed, and shows what the raw client says', async () => {
    type('hello from irssi, ünïcode ✓');
    expect(untagged(await ann.expect(' PRIVMSG #lobby '))).toBe(
      ':irssiuser!irssiuser@irc.sockit PRIVMSG #lobby :hello from irssi, ünïcode ✓',
    );
    ann.send('PRIVMSG #lobby :hello irssi, from a raw client');
    await waitFor('the raw message shown', () => logOf('#lobby').includes('hello irssi, from a raw client'));
    expect(logOf('#lobby')).toMatch(/<\s*ann> hello irssi, from a raw client/);
  });

  it('carries /me both ways, and private messages', async () => {
    type('/me waves');
    expect(untagged(await ann.expect(' PRIVMSG #lobby '))).toBe(
      ':irssiuser!irssiuser@irc.sockit PRIVMSG #lobby :\x01ACTION waves\x01',
    );
    ann.send('PRIVMSG #lobby :\x01ACTION nods back\x01');
    await waitFor('the action shown', () => /\* ann nods back/.test(logOf('#lobby')));
    ann.send('PRIVMSG irssiuser :just between us');
    await waitFor('the private message shown', () => logOf('ann').includes('just between us'));
    type('/msg ann sure thing');
    expect(untagged(await ann.expect(' PRIVMSG ann '))).toBe(
      ':irssiuser!irssiuser@irc.sockit PRIVMSG ann :sure thing',
    );
  });

  it('quits with its message', async () => {
    type('/quit off for now');
    expect(untagged(await ann.expect(' QUIT '))).toBe(
      ':irssiuser!irssiuser@irc.sockit QUIT :Quit: off for now',
    );
  });
});
