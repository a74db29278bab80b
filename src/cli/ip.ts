/** `sockit ip`: an IP calculator for IPv4 and IPv6. */
import { Command } from 'commander';
import { answerIpQuery, DEFAULT_SPLIT_LIMIT } from '../ip/query.js';
import { formatIpAnswer } from '../ip/text.js';
import { parseCount } from './args.js';
import { printResult } from './output.js';

interface IpFlags {
  mask?: string;
  split?: string;
  limit: number;
  json?: boolean;
}

export function ipCommand(): Command {
  return new Command('ip')
    .description(
      'IP calculator: mask and prefix, network, broadcast, hosts, class and kind of an IPv4 or IPv6 ' +
        'address; whether two addresses share a subnet; subnets of a split',
    )
    .argument(
      '<address...>',
      'one or two addresses, each as ADDRESS, ADDRESS/PREFIX or ADDRESS/NETMASK; or one range FIRST-LAST',
    )
    .option('-m, --mask <mask>', 'netmask or prefix for the addresses: 255.255.255.0, /24 or 24')
    .option('-s, --split <prefix>', 'list the subnets of this longer prefix inside ADDRESS/PREFIX, e.g. /26')
    .option('--limit <n>', 'most subnets --split lists', parseCount, DEFAULT_SPLIT_LIMIT)
    .option('--json', 'print JSON instead of text: one object, or for a range an array of blocks')
    .addHelpText(
      'after',
      `
A bare address is the host alone (/32 or /128). A netmask must be contiguous: its one
bits all before its zero bits. IPv6 is printed as RFC 5952 says (2001:db8::1).
With --json, counts are numbers for IPv4 and decimal strings for IPv6.
Comparing two addresses exits 1 when they are not on one subnet (2 for bad input). [::1] is read as ::1.
The IPv4 address inside an IPv4-mapped (::ffff:0:0/96) or NAT64 (64:ff9b::/96, RFC 6052)
address is printed dotted. A range FIRST-LAST prints the fewest CIDR blocks covering it.

Examples:
  sockit ip 192.168.1.77/26                           network, broadcast, hosts, class, kind
  sockit ip 10.1.2.3 --mask 255.255.240.0             the same from a netmask
  sockit ip 172.16.10.1 172.16.10.2 --mask /24        do they share a subnet? (the AND of each)
  sockit ip 10.0.0.0/24 --split /26                   the four /26 subnets
  sockit ip 2001:db8::1/64 --json                     IPv6, as JSON for scripts
  sockit ip 64:ff9b::c000:221                         NAT64: embedded IPv4 192.0.2.33
  sockit ip 10.0.0.3-10.0.0.17                        range to CIDR blocks, one per line`,
    )
    .action((addresses: string[], flags: IpFlags) => {
      const answer = answerIpQuery({ addresses, mask: flags.mask, split: flags.split, limit: flags.limit });
      printResult(flags, answer.report, () => formatIpAnswer(answer));
      // As grep and test do: the answer is printed, and the status says "no" for scripts.
      if (answer.form === 'compare' && !answer.report.sameSubnet) process.exitCode = 1;
    });
}
