/**
 * `sockit ip` run in-process through its commander definition, stdout captured: the same
 * parse, action and output as the installed command, without a build.
 */
import { describe, expect, it } from 'vitest';
import { ExitStatus } from '../../src/cli/exit-status.js';
import { ipCommand } from '../../src/cli/ip.js';
import { ErrorCode } from '../../src/errors.js';
import type { ComparisonReport, SplitReport, SubnetReport } from '../../src/ip/index.js';
import { runInProcess } from '../in-process.js';

function sockitIp(args: string[]): Promise<string> {
  return runInProcess(ipCommand(), args);
}

const INVALID = expect.objectContaining({ name: 'SockitError', code: ErrorCode.INVALID_ARGUMENT });

describe('sockit ip ADDR1 ADDR2 --mask M (acceptance)', () => {
  const args = ['172.16.10.1', '172.16.10.2', '--mask', '255.255.255.0'];

  it('says both are on 172.16.10.0/24, same subnet, class B, private', async () => {
    const out = await sockitIp(args);
    expect(out).toContain('same subnet: 172.16.10.1 and 172.16.10.2 are both on 172.16.10.0/24');
    expect(out).toContain('& 11111111.11111111.11111111.00000000   255.255.255.0');
    expect(out).toContain('= 10101100.00010000.00001010.00000000   172.16.10.0');
    expect(out.match(/^class +B \(default mask 255\.255\.0\.0 = \/16\)$/gm)).toHaveLength(2);
    expect(out.match(/^kind +private \(172\.16\.0\.0\/12, RFC 1918\)/gm)).toHaveLength(2);
    expect(out.match(/^network +172\.16\.10\.0\/24$/gm)).toHaveLength(2);
  });

  it('--json carries the same facts', async () => {
    const report = JSON.parse(await sockitIp([...args, '--json'])) as ComparisonReport;
    expect(report.sameSubnet).toBe(true);
    expect(report.network).toBe('172.16.10.0/24');
    expect(report.and.map((row) => row.network)).toEqual(['172.16.10.0', '172.16.10.0']);
    expect(report.results.map((r) => [r.address, r.network, r.class?.name, r.kind.kind])).toEqual([
      ['172.16.10.1', '172.16.10.0/24', 'B', 'private'],
      ['172.16.10.2', '172.16.10.0/24', 'B', 'private'],
    ]);
  });

  it('reports different subnets when the mask separates them', async () => {
    const out = await sockitIp(['172.16.10.1', '172.16.11.1/24']);
    expect(out).toContain(
      'different subnets: 172.16.10.1 and 172.16.11.1 are on 172.16.10.0/24 and 172.16.11.0/24',
    );
    // The command says "no" in its status too; put this test process's status back.
    expect(process.exitCode).toBe(1);
    process.exitCode = undefined;
  });
});

describe('sockit ip ADDR[/PREFIX]', () => {
  it('derives the prefix from a netmask and shows every fact', async () => {
    const out = await sockitIp(['10.1.2.3', '--mask', '255.255.240.0']);
    expect(out).toMatch(/^netmask +255\.255\.240\.0 = \/20$/m);
    expect(out).toMatch(/^wildcard +0\.0\.15\.255$/m);
    expect(out).toMatch(/^network +10\.1\.0\.0\/20$/m);
    expect(out).toMatch(/^broadcast +10\.1\.15\.255$/m);
    expect(out).toMatch(/^hosts +10\.1\.0\.1 - 10\.1\.15\.254 \(4094 usable/m);
  });

  it('labels a /31 as point-to-point (RFC 3021)', async () => {
    expect(await sockitIp(['192.0.2.0/31'])).toMatch(
      /^hosts +192\.0\.2\.0 - 192\.0\.2\.1 \(2 usable, .*RFC 3021\)$/m,
    );
  });

  it('prints IPv6 in RFC 5952 form and, with --json, counts as strings', async () => {
    const out = await sockitIp(['2001:DB8:0:0:0:0:0:1/64']);
    expect(out).toMatch(/^address +2001:db8::1$/m);
    expect(out).toMatch(/^expanded +2001:0db8:0000:0000:0000:0000:0000:0001$/m);
    const report = JSON.parse(await sockitIp(['fd00::1/48', '--json'])) as SubnetReport;
    expect(report).toMatchObject({ network: 'fd00::/48', addressCount: '1208925819614629174706176' });
    expect(report.kind.kind).toBe('unique-local');
  });
});

describe('sockit ip --split', () => {
  it('lists the subnets, and says how many the limit left out', async () => {
    const out = await sockitIp(['10.0.0.0/24', '--split', '/26', '--limit', '2']);
    expect(out.split('\n').slice(0, 4)).toEqual([
      '10.0.0.0/24 split into /26: 4 subnets',
      '  10.0.0.0/26    hosts 10.0.0.1 - 10.0.0.62 (62)',
      '  10.0.0.64/26   hosts 10.0.0.65 - 10.0.0.126 (62)',
      '  ... and 2 more (raise --limit to list them)',
    ]);
    const report = JSON.parse(await sockitIp(['10.0.0.0/24', '--split', '26', '--json'])) as SplitReport;
    expect(report.subnets.map((s) => s.network)).toEqual([
      '10.0.0.0/26',
      '10.0.0.64/26',
      '10.0.0.128/26',
      '10.0.0.192/26',
    ]);
    expect(report.truncated).toBe(false);
  });
});

describe('sockit ip: bad input', () => {
  it('refuses a non-contiguous mask with ERR_INVALID_ARGUMENT', async () => {
    await expect(sockitIp(['10.0.0.1', '10.0.0.2', '--mask', '255.0.255.0'])).rejects.toThrow(INVALID);
  });

  it('refuses malformed addresses, three addresses and a missing mask', async () => {
    await expect(sockitIp(['10.0.0.256'])).rejects.toThrow(INVALID);
    await expect(sockitIp(['1.1.1.1', '2.2.2.2', '3.3.3.3', '--mask', '8'])).rejects.toThrow(INVALID);
    await expect(sockitIp(['1.1.1.1', '2.2.2.2'])).rejects.toThrow(INVALID);
  });

  it('shows examples in --help', async () => {
    const help: string[] = [];
    const command = ipCommand()
      .exitOverride()
      .configureOutput({ writeOut: (s) => help.push(s) });
    await expect(command.parseAsync(['node', 'sockit-ip', '--help'])).rejects.toMatchObject({
      code: 'commander.helpDisplayed',
    });
    expect(help.join('')).toContain('sockit ip 172.16.10.1 172.16.10.2 --mask /24');
  });
});

describe('sockit ip with bracketed IPv6', () => {
  it('reads [::1] and [2001:db8::1]/64 as the addresses inside the brackets', async () => {
    const one = JSON.parse(await sockitIp(['[::1]', '--json'])) as SubnetReport;
    const plain = JSON.parse(await sockitIp(['::1', '--json'])) as SubnetReport;
    expect(one).toEqual(plain);
    const net = JSON.parse(await sockitIp(['[2001:db8::1]/64', '--json'])) as SubnetReport;
    expect(net).toEqual(JSON.parse(await sockitIp(['2001:db8::1/64', '--json'])));
    await expect(sockitIp(['[10.0.0.1]'])).rejects.toEqual(INVALID);
  });
});

describe('the installed command', () => {
  it('exits 1 when two addresses are not on one subnet, 0 when they are', async () => {
    const { requireTools, sockit } = await import('../helpers.js');
    requireTools();
    const apart = await sockit(['ip', '10.0.0.1', '10.0.1.1', '--mask', '/24']);
    expect(apart.code).toBe(1);
    expect(apart.stderr).toBe('');
    expect(apart.stdout.toString()).toMatch(/^different subnets: 10\.0\.0\.1 and 10\.0\.1\.1/);
    const together = await sockit(['ip', '10.0.0.1', '10.0.0.200', '--mask', '/24']);
    expect(together.code).toBe(0);
  });

  it('answers the acceptance query through dist/cli/main.cjs, in text and JSON', async () => {
    const { requireTools, sockit } = await import('../helpers.js');
    requireTools();
    const args = ['ip', '172.16.10.1', '172.16.10.2', '--mask', '255.255.255.0'];
    const text = await sockit(args);
    expect(text.code).toBe(0);
    expect(text.stdout.toString()).toContain(
      'same subnet: 172.16.10.1 and 172.16.10.2 are both on 172.16.10.0/24',
    );
    const json = await sockit([...args, '--json']);
    const report = JSON.parse(json.stdout.toString()) as ComparisonReport;
    expect(report.sameSubnet).toBe(true);
    const bad = await sockit(['ip', '10.1.2.3', '--mask', '255.0.255.0']);
    expect(bad.code).toBe(ExitStatus.USAGE);
    expect(bad.stderr).toMatch(
      /^sockit: netmask 255\.0\.255\.0 is not contiguous.*\[ERR_INVALID_ARGUMENT\]\n$/,
    );
  });
});

describe('sockit ip with an IPv4 address inside IPv6', () => {
  it('prints the IPv4 part of a NAT64 address (64:ff9b::/96, RFC 6052) dotted', async () => {
    const out = await sockitIp(['64:ff9b::c000:221']);
    expect(out).toMatch(/^embedded IPv4 +192\.0\.2\.33 \(NAT64, 64:ff9b::\/96, RFC 6052\)$/m);
    const report = JSON.parse(await sockitIp(['64:ff9b::c000:221', '--json'])) as SubnetReport;
    expect(report.embeddedIPv4).toEqual({
      address: '192.0.2.33',
      via: 'nat64',
      block: '64:ff9b::/96, RFC 6052',
    });
  });

  it('prints the IPv4 part of an IPv4-mapped address dotted, and none for other IPv6', async () => {
    expect(await sockitIp(['::ffff:c0a8:101'])).toMatch(/^embedded IPv4 +192\.168\.1\.1 \(IPv4-mapped/m);
    const plain = JSON.parse(await sockitIp(['2001:db8::c000:221', '--json'])) as SubnetReport;
    expect(plain.embeddedIPv4).toBeNull();
    expect(await sockitIp(['2001:db8::c000:221'])).not.toContain('embedded');
  });
});

describe('sockit ip FIRST-LAST (range to CIDR)', () => {
  it('prints the fewest blocks covering exactly the range, one per line', async () => {
    expect(await sockitIp(['10.0.0.3-10.0.0.17'])).toBe(
      '10.0.0.3/32\n10.0.0.4/30\n10.0.0.8/29\n10.0.0.16/31\n',
    );
    expect(await sockitIp(['2001:db8::-2001:db8::ffff'])).toBe('2001:db8::/112\n');
  });

  it('--json prints the blocks as an array', async () => {
    expect(JSON.parse(await sockitIp(['[::1]-[::4]', '--json']))).toEqual(['::1/128', '::2/127', '::4/128']);
  });

  it('refuses a reversed range, mixed families and a range with other arguments', async () => {
    await expect(sockitIp(['10.0.0.17-10.0.0.3'])).rejects.toThrow(INVALID);
    await expect(sockitIp(['10.0.0.1-::1'])).rejects.toThrow(INVALID);
    await expect(sockitIp(['10.0.0.1-10.0.0.9', '--mask', '/24'])).rejects.toThrow(INVALID);
    await expect(sockitIp(['10.0.0.1-10.0.0.9', '10.0.0.1'])).rejects.toThrow(INVALID);
  });
});

describe('sockit ip --split counts in words', () => {
  it('says "1 subnet", not "1 subnets"', async () => {
    expect(await sockitIp(['10.0.0.0/24', '--split', '/24'])).toMatch(
      /^10\.0\.0\.0\/24 split into \/24: 1 subnet$/m,
    );
    expect(await sockitIp(['10.0.0.0/24', '--split', '/25'])).toMatch(/: 2 subnets$/m);
  });
});
