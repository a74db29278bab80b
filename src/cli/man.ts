/**
 * The man page, sockit(1), written in roff from the command tree (`npm run build` runs
 * scripts/man.mjs, which calls `manPage`): every command with its usage, arguments, options
 * and the text of its `--help`, examples included, so nothing is listed twice by hand.
 */
import type { EventEmitter } from 'node:events';
import type { Command, Help } from 'commander';
import { eachCommand } from './command-tree.js';

/** An exit status and what it means, as docs/cli.md's table gives them (see `exitStatuses`). */
export interface ExitStatus {
  status: string;
  meaning: string;
}

/**
 * Environment variables sockit reads itself; those an option reads through commander's
 * `.env()` are found in the tree and added, with the options they set.
 */
export const ENVIRONMENT: Record<string, string> = {
  SOCKIT_DATA_DIR: 'The data folder (see FILES).',
  SOCKIT_DB:
    'The account database: a SQLite path, or a mysql://, mariadb:// or postgres:// URL; a password in it, ' +
    'unlike one in --db, does not show in the process list.',
  SOCKIT_USER:
    'The account the file client and sockit exec log in as when neither --user nor USER@ names one; else the login name.',
  SOCKIT_PASSWORD:
    'The password, instead of asking on the terminal: for sockit users add and passwd, sockit files register, ' +
    'and the log-in of the file client and sockit exec (for scripts).',
  SOCKIT_KEY_CACHE:
    'off: the file client and sockit exec neither use nor keep salted keys from earlier log-ins (as --no-key-cache).',
  TERM: 'sockit exec passes it on to the remote command.',
  PATH: 'sockit exec serve looks up the names given to --allow in it, once, at start (commands get /usr/local/bin:/usr/bin:/bin).',
  LANG: 'sockit exec serve gives it to the commands it runs (C.UTF-8 when unset).',
  SOCKIT_CACHE_DIR:
    "The cache folder (the file client's keys, the chat's read marks), instead of $XDG_CACHE_HOME/sockit or ~/.cache/sockit.",
  HOME: "The home folder, where ~/.cache and ~/.local/share are; when unset, the user's home in the system's password database.",
  XDG_DATA_HOME: 'When an absolute path, the data folder is $XDG_DATA_HOME/sockit.',
  XDG_CACHE_HOME: 'When an absolute path, the cache folder is $XDG_CACHE_HOME/sockit.',
  XDG_RUNTIME_DIR:
    'When an absolute path, the control sockets of kept connections (sockit exec --keep) are in $XDG_RUNTIME_DIR/sockit, else in the cache folder (sockets/).',
  NO_COLOR: 'Set and not empty: log lines on a terminal are not coloured (https://no-color.org).',
  NODE_DISABLE_COMPILE_CACHE:
    "Set: sockit neither reads nor writes its code caches (the cache folder's code/, and those the build made beside start.cjs and the commands' bundles), and Node's compile cache is off.",
  NODE_OPTIONS:
    "Node's own options, read by Node. A code cache fits the V8 flags it was made with: sockit keeps one in code/ per set of them and of the command line's Node options.",
  UV_THREADPOOL_SIZE:
    "The size of Node's thread pool. sockit ports sets it to 1 when unset: the table reads it starts there are best done one after the other.",
  NODE_CHANNEL_FD:
    'Set by Node for a process started with an IPC channel: sockit exec serve keeps that descriptor, and closes every other one it inherited open across exec, so that commands do not get them.',
};

const FILES: [string, string][] = [
  [
    '~/.local/share/sockit/',
    'The data folder, shared by every command that keeps data: $SOCKIT_DATA_DIR, else $XDG_DATA_HOME/sockit, ' +
      'else this; --data-dir overrides.',
  ],
  ['DATA-DIR/sockit.db', 'The accounts (SQLite), unless --db or SOCKIT_DB names another database.'],
  ['DATA-DIR/tftp/', 'What sockit serve serves over TFTP.'],
  ['DATA-DIR/files/', 'The homes of the file service, one folder per account.'],
  ['~/.cache/sockit/scram/', "The file client's salted keys, one file of mode 0600 per server and account."],
  [
    '~/.cache/sockit/code/',
    "Compiled code of each command, kept after a run so that the next starts sooner, and Node's compile cache " +
      '(node/); mode 0700, and not used when it, the cache folder, or a folder or link above them is another ' +
      "user's or open to others (a folder others may write to must have the sticky bit, as /tmp).",
  ],
  [
    '~/.cache/sockit/chat-read.json',
    'Where sockit chat join left off in each room (mode 0600), to mark what is unread at the next join.',
  ],
];

/**
 * The exit statuses from the table under `## Exit codes` in docs/cli.md, the one place that
 * lists them.
 *
 * @example
 * ```ts
 * exitStatuses('## Exit codes\n\n| status | meaning |\n| --- | --- |\n| 0 | success |\n'); // [{ status: '0', meaning: 'success' }]
 * ```
 */
export function exitStatuses(markdown: string): ExitStatus[] {
  const section = markdown.split(/^## Exit codes\s*$/m)[1]?.split(/^## /m)[0] ?? '';
  return section
    .split('\n')
    .map((line) => /^\|\s*(\d+)\s*\|\s*(.*?)\s*\|\s*$/.exec(line))
    .filter((row) => row !== null)
    .map(([, status = '', meaning = '']) => ({ status, meaning }));
}

/**
 * sockit(1) for the tree under `root`.
 *
 * @example
 * ```ts
 * writeFileSync('sockit.1', manPage(program(), { date: '2025-01-31', version: '0.1.0', exitStatuses: [] }));
 * ```
 */
export function manPage(
  root: Command,
  page: { date: string; version: string; exitStatuses: ExitStatus[] },
): string {
  const help = root.createHelp();
  const name = root.name();
  const commands = eachCommand(root);
  const leaves = commands.filter((c) => c.command.commands.length === 0);
  return [
    `.TH ${name.toUpperCase()} 1 ${page.date} ${quoted(`${name} ${page.version}`)} "User Commands"`,
    // Left-aligned and unhyphenated: option names and paths stay whole.
    '.ad l',
    '.nh',
    '.SH NAME',
    `${roff(name)} \\- ${roff(root.description())}`,
    '.SH SYNOPSIS',
    ...[root, ...leaves.map((c) => c.command)].flatMap((c, i) => [i === 0 ? '.PP' : '.br', usage(help, c)]),
    '.SH DESCRIPTION',
    ...prose(root.description()),
    ...afterHelp(root),
    '.PP',
    'Every command takes \\fB\\-h\\fR, \\fB\\-\\-help\\fR and prints its usage, options and examples.',
    '.SS Options of every command',
    ...options(help, root),
    '.SH COMMANDS',
    ...commands.flatMap(({ path, command }) => [
      `.SS ${quoted([name, ...path].join(' '))}`,
      usage(help, command),
      ...prose(command.description()),
      ...items(
        help
          .visibleArguments(command)
          .map((a) => [argumentTerm(help.argumentTerm(a)), help.argumentDescription(a)]),
      ),
      ...options(help, command),
      ...afterHelp(command),
    ]),
    '.SH EXIT STATUS',
    ...items(
      page.exitStatuses.map((e) => [`\\fB${e.status}\\fR`, e.meaning]),
      markdownRoff,
    ),
    '.SH ENVIRONMENT',
    // Each name on a line of its own, as long ones are: a short one (TERM) would share its text's.
    ...items(environment(root).map(([variable, text]) => [`\\fB${variable}\\fR`, text])).map((line, i) =>
      i % 3 === 2 ? `.br\n${line}` : line,
    ),
    '.SH FILES',
    ...items(FILES.map(([file, text]) => [`\\fI${roff(file)}\\fR`, text])),
    '.SH SEE ALSO',
    '\\fBnc\\fR(1), \\fBss\\fR(8), \\fBtftp\\fR(1); docs/cli.md and the other guides in docs/ of the sockit sources.',
    '',
  ].join('\n');
}

/** Each variable of ENVIRONMENT, and of the options' `.env()`, with the options it sets. */
function environment(root: Command): [string, string][] {
  // variable -> option -> the commands that have it
  const setting = new Map<string, Map<string, string[]>>();
  for (const { path, command } of [{ path: [], command: root }, ...eachCommand(root)]) {
    for (const option of command.options) {
      if (option.envVar === undefined || option.long === undefined) continue;
      const byOption = setting.get(option.envVar) ?? new Map<string, string[]>();
      byOption.set(option.long, [...(byOption.get(option.long) ?? []), [root.name(), ...path].join(' ')]);
      setting.set(option.envVar, byOption);
    }
  }
  const names = [...new Set([...Object.keys(ENVIRONMENT), ...setting.keys()])];
  return names.map((variable) => {
    const sets = [...(setting.get(variable) ?? [])].map(
      ([long, where]) => `Read by ${where.join(', ')} as the default of ${long}.`,
    );
    return [variable, [ENVIRONMENT[variable] ?? '', ...sets].filter(Boolean).join(' ')];
  });
}

/** The command's own options (the help option, common to all, is said once in DESCRIPTION). */
function options(help: Help, command: Command): string[] {
  const own = help.visibleOptions(command).filter((o) => command.options.includes(o));
  return items(own.map((o) => [argumentTerm(help.optionTerm(o)), help.optionDescription(o)]));
}

/** `.TP` items: a term in roff already, then its text (plain, or converted by `text`). */
function items(list: string[][], text: (s: string) => string = roff): string[] {
  return list.flatMap(([term = '', description = '']) => ['.TP', term, text(description)]);
}

/** The text `addHelpText('after', ...)` adds to the command's `--help`: notes and examples. */
function afterHelp(command: Command): string[] {
  let text = '';
  // commander's Command is an EventEmitter (its types do not say so); --help emits this.
  (command as unknown as EventEmitter).emit('afterHelp', {
    error: false,
    command,
    write: (s: string) => (text += s),
  });
  return prose(text);
}

/**
 * Help text as roff: lines starting at the margin are filled into paragraphs; indented ones
 * (examples, tables) are kept as they are, indented.
 */
function prose(text: string): string[] {
  const out: string[] = [];
  let mode: 'break' | 'text' | 'kept' = 'break';
  const endKept = () => mode === 'kept' && out.push('.fi', '.RE');
  for (const line of text.replace(/^\n+|\s+$/g, '').split('\n')) {
    if (line.trim() === '') {
      endKept();
      mode = 'break';
    } else if (/^\s/.test(line)) {
      if (mode !== 'kept') out.push('.RS 4', '.nf');
      out.push(roff(line.replace(/^ {1,2}/, '')));
      mode = 'kept';
    } else {
      endKept();
      if (mode !== 'text') out.push('.PP');
      out.push(roff(line));
      mode = 'text';
    }
  }
  endKept();
  return out;
}

/** `sockit files upload [options] <server> <local...>`: the command bold, the rest as `terms`. */
function usage(help: Help, command: Command): string {
  const words = help.commandUsage(command).split(' ');
  const first = words.findIndex((w) => /^[[<]/.test(w));
  const names = first < 0 ? words : words.slice(0, first);
  const rest = first < 0 ? [] : words.slice(first);
  return [`\\fB${roff(names.join(' '))}\\fR`, ...rest.map(term)].join(' ');
}

/** An option's or argument's term, `-u, --user <name>` or `local...`: flags bold, values italic. */
function argumentTerm(text: string): string {
  return text.split(' ').map(term).join(' ');
}

function term(word: string): string {
  const flag = /^(-[^,]*)(,?)$/.exec(word);
  if (flag) return `\\fB${roff(flag[1] ?? '')}\\fR${flag[2]}`;
  const [, open = '', value = word, close = ''] = /^([[<]?)(.*?)([\]>]?)$/.exec(word) ?? [];
  const bracket = (b: string) => (b === '<' || b === '>' ? '' : b);
  return `${bracket(open)}\\fI${roff(value)}\\fR${bracket(close)}`;
}

/** docs/cli.md's table cells: `code` in bold. */
function markdownRoff(text: string): string {
  return roff(text).replace(/`([^`]+)`/g, '\\fB$1\\fR');
}

/** Text safe in roff: backslashes and hyphens escaped, no request at a line start, ASCII only. */
function roff(text: string): string {
  return text
    .replaceAll('\\', '\\e')
    .replaceAll('-', '\\-')
    .replace(/[^\x20-\x7e]/g, (c) => `\\[u${c.codePointAt(0)?.toString(16).toUpperCase().padStart(4, '0')}]`)
    .replace(/^[.']/, '\\&$&');
}

function quoted(text: string): string {
  return `"${roff(text).replaceAll('"', '\\(dq')}"`;
}
