/**
 * `sockit lan`: the serverless half of the chat, compatible with IP Messenger, FeiQ and iptux
 * (UDP broadcast on port 2425). On a terminal, a full-duplex line interface (messages arrive
 * while you type); without one, each event is a line on stdout (`--json`: JSON lines). The
 * subcommands `peers`, `send`, `send-file` hand their work to a `sockit lan` running on this
 * machine through its control socket, or else announce themselves, do it and leave.
 */
import { Command, Option } from 'commander';
import { ErrorCode, SockitError } from '../errors.js';
import { IPMSG_PORT } from '../lan/ipmsg.js';
import { bytesOption, parsePort } from './args.js';
import { dataDirOption } from './data-dir.js';

export interface LanFlags {
  nick?: string;
  group: string;
  port: number;
  encoding: 'utf-8' | 'gbk' | 'cp932';
  broadcast: string[];
  bind?: string;
  json?: boolean;
  dataDir: string;
  downloadDir: string;
  acceptFiles?: boolean;
  maxSize?: number;
  wait: number;
}

const repeated = (value: string, list: string[]): string[] => [...list, value];

/** The options every `sockit lan` command shares: who this is, and where the LAN is. */
function lanOptions(command: Command): Command {
  return command
    .option('--nick <name>', 'the name others see (default: your login name)')
    .option('--group <name>', 'the group others see', '')
    .option(
      '-p, --port <port>',
      'UDP and TCP port: IP Messenger, FeiQ and iptux use 2425',
      parsePort,
      IPMSG_PORT,
    )
    .addOption(
      new Option(
        '--encoding <charset>',
        "text of peers that do not say they speak UTF-8: FeiQ's is gbk, old IP Messengers' cp932",
      )
        .choices(['utf-8', 'gbk', 'cp932'])
        .default('utf-8'),
    )
    .addOption(
      new Option(
        '--broadcast <address>',
        "also announce to this address: a routed subnet's broadcast, or a peer (repeat)",
      )
        .argParser(repeated)
        .default([], "255.255.255.255 and each interface's broadcast address"),
    )
    .option(
      '--bind <address>',
      'serve files on this IPv4 address only (default: all); UDP still listens on all, to hear broadcasts',
    );
}

export function lanCommand(): Command {
  const lan = lanOptions(new Command('lan'))
    .description(
      'chat and send files on the local network with no server, as IP Messenger, FeiQ and iptux do',
    )
    .addOption(dataDirOption('where the history of received messages is kept'))
    .option('--json', 'without a terminal: one JSON object per event')
    .option('--download-dir <dir>', 'where received files and folders go', '.')
    .option('--accept-files', 'without a terminal: fetch every file offered into --download-dir')
    .addOption(
      bytesOption(
        '--max-size <bytes>',
        'a file, or a folder, fetched may have at most this many bytes',
        '4G',
      ),
    )
    .addHelpText(
      'after',
      `
Peers find each other by UDP broadcast on port 2425 (IP Messenger's protocol); messages are
acknowledged and resent until they are, and each arrives once. Files and folders are offered
in a message and pulled by the receiver over TCP on the same port, into --download-dir,
never over a file that is there (a new name instead: "name (1)"), only from peers that
announced themselves, at most --max-size each, and only while the disk keeps 64 MiB free.

On a terminal, type a message and Enter to send it to the current peer; commands:
  /peers            who is here             /to NICK|IP     talk to this peer
  /send-file PATH   offer files, folders    /get [N] [DIR]  fetch the files offered last
  /away [TEXT]      away; /back             /quit           leave (tells the others)
Without a terminal each event is a line on stdout (--json: JSON lines); a running sockit lan
also takes work from sockit lan peers/send/send-file on this machine, and keeps what it
receives for sockit lan history.

Examples:
  sockit lan --nick ann
  sockit lan --encoding gbk                          (a LAN of FeiQ users)
  sockit lan --json --accept-files --download-dir ~/inbox
  sockit lan send bob 'the build is green'
  sockit lan send-file 10.0.0.7 report.pdf photos/`,
    )
    .action(async (flags: LanFlags) => {
      const { runLan } = await import('./lan-run.js');
      await runLan(flags);
    });

  lan.addCommand(
    lanOptions(new Command('peers'))
      .description('list the peers on the network')
      .option('--json', 'a JSON array')
      .addOption(waitOption(2))
      .addHelpText(
        'after',
        `
Asks a sockit lan running on this machine; else announces itself, listens --wait seconds
for the answers, and leaves.

Examples:
  sockit lan peers
  sockit lan peers --json --wait 5`,
      )
      .action(async (flags: LanFlags, command: Command) => {
        const { peersCommand } = await import('./lan-run.js');
        await peersCommand({ ...command.parent?.opts(), ...flags });
      }),
  );
  lan.addCommand(
    lanOptions(new Command('send'))
      .description('send a message to a peer (by nick or address)')
      .argument('<peer>', 'a nick, or an IPv4 address')
      .argument('<text...>', 'the message')
      .addOption(waitOption(3))
      .addHelpText(
        'after',
        `
Done when the peer acknowledged it (resent once a second until then, 8 times at most).
Through a sockit lan running on this machine, or else on its own: it announces itself,
waits --wait seconds at most for the peer, sends, and leaves.

Examples:
  sockit lan send bob 'lunch at noon?'
  sockit lan send 10.0.0.7 build 1234 is green`,
      )
      .action(async (peer: string, words: string[], flags: LanFlags, command: Command) => {
        const { sendCommand } = await import('./lan-run.js');
        await sendCommand(peer, words.join(' '), { ...command.parent?.opts(), ...flags });
      }),
  );
  lan.addCommand(
    lanOptions(new Command('send-file'))
      .description('offer files and folders to a peer; it fetches them when it wants')
      .argument('<peer>', 'a nick, or an IPv4 address')
      .argument('<path...>', 'files and folders')
      .option('-m, --message <text>', 'a message with them', '')
      .addOption(waitOption(3))
      .addHelpText(
        'after',
        `
The peer fetches them over TCP when it wants. Through a sockit lan running on this machine,
which serves them for an hour; without one, this command serves them itself and waits until
the peer has fetched them (at most --wait-fetch seconds).

Examples:
  sockit lan send-file bob report.pdf
  sockit lan send-file 10.0.0.7 photos/ notes.txt -m 'from the trip'`,
      )
      .addOption(
        new Option('--wait-fetch <seconds>', 'without a running sockit lan: serve them this long at most')
          .argParser((v) => seconds(v, '--wait-fetch'))
          .default(600),
      )
      .action(
        async (
          peer: string,
          paths: string[],
          flags: LanFlags & { message: string; waitFetch: number },
          command: Command,
        ) => {
          const { sendFileCommand } = await import('./lan-run.js');
          await sendFileCommand(peer, paths, { ...command.parent?.opts(), ...flags });
        },
      ),
  );
  lan.addCommand(
    new Command('history')
      .description('the messages a running sockit lan received')
      .addOption(dataDirOption('where the history is kept'))
      .option('--json', 'JSON lines as kept')
      .option('-n, --lines <n>', 'the last N messages', (v) => count(v, '--lines'), 50)
      .addHelpText(
        'after',
        `
What a running sockit lan received (messages, and files it saved), from the data folder.

Examples:
  sockit lan history
  sockit lan history -n 200 --json`,
      )
      .action(async (flags: { dataDir: string; json?: boolean; lines: number }) => {
        const { historyCommand } = await import('./lan-run.js');
        await historyCommand(flags);
      }),
  );
  // `serve`-like subcommands share names with the parent's options: hand them over.
  lan.hook('preSubcommand', (parent, sub) => {
    for (const name of ['nick', 'group', 'port', 'encoding', 'broadcast', 'bind', 'json', 'dataDir']) {
      if (parent.getOptionValueSource(name) !== 'cli') continue;
      if (sub.options.some((o) => o.attributeName() === name)) {
        sub.setOptionValueWithSource(name, parent.getOptionValue(name), 'cli');
      }
    }
  });
  lan.helpCommand(true);
  return lan;
}

function waitOption(defaultSeconds: number): Option {
  return new Option('--wait <seconds>', 'without a running sockit lan: how long to listen for peers')
    .argParser((v) => seconds(v, '--wait'))
    .default(defaultSeconds);
}

function seconds(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || n > 86_400) {
    throw new SockitError(ErrorCode.INVALID_ARGUMENT, `${flag} ${value}: give seconds, 0 to 86400`);
  }
  return n;
}

function count(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 1_000_000) {
    throw new SockitError(ErrorCode.INVALID_ARGUMENT, `${flag} ${value}: give a whole number from 1`);
  }
  return n;
}
