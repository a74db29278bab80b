/** The nicks of UDP sources: one per address, valid, distinct within an IPv6 /64. */
import { describe, expect, it } from 'vitest';
import { MAX_NICK_LENGTH, nickProblem } from './names.js';
import { udpNick } from './udp.js';

describe('udpNick', () => {
  it('names an IPv4 source by its address', () => {
    expect(udpNick('127.0.0.1')).toBe('udp-127-0-0-1');
    expect(udpNick('::1')).toBe('udp---1');
  });

  it('gives the hosts of one IPv6 /64 nicks of their own, valid and within the length', () => {
    const hosts = [
      '2001:db8:85a3:8d3:1319:8a2e:370:7348',
      '2001:db8:85a3:8d3:1319:8a2e:370:9999',
      '2001:db8:85a3:8d3:ffff:ffff:ffff:ffff',
      'fe80::1c2b:3aff:fe4d:5e6f',
    ];
    const nicks = hosts.map(udpNick);
    expect(new Set(nicks).size).toBe(hosts.length);
    for (const nick of nicks) {
      expect(nick.length).toBeLessThanOrEqual(MAX_NICK_LENGTH);
      expect(nick.startsWith('udp-')).toBe(true);
      expect(nickProblem(nick)).toBeUndefined();
    }
    // The same address, the same nick: a source keeps its name from datagram to datagram.
    expect(udpNick(hosts[0] as string)).toBe(nicks[0]);
    expect(nicks[0]).toMatch(/^udp-2001-db8-85a3-8d3-1-[0-9a-f]{8}$/);
  });
});
