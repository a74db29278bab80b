import { describe, expect, it } from 'vitest';
import { portRange, serviceName } from './labels.js';

describe('portRange (RFC 6335 §6)', () => {
  it.each([
    [0, 'well-known'],
    [22, 'well-known'],
    [1023, 'well-known'],
    [1024, 'registered'],
    [5432, 'registered'],
    [49151, 'registered'],
    [49152, 'dynamic'],
    [65535, 'dynamic'],
  ])('port %i is %s', (port, range) => {
    expect(portRange(port)).toBe(range);
  });
});

describe('serviceName', () => {
  it('knows the common services', () => {
    expect(serviceName(22, 'tcp')).toBe('ssh');
    expect(serviceName(53, 'udp')).toBe('domain');
    expect(serviceName(53, 'tcp')).toBe('domain');
    expect(serviceName(443, 'tcp')).toBe('https');
    expect(serviceName(5432, 'tcp')).toBe('postgresql');
    expect(serviceName(7, 'udp')).toBe('echo');
  });

  it('knows which side of TCP/UDP a service lives on', () => {
    expect(serviceName(22, 'udp')).toBeUndefined();
    expect(serviceName(69, 'tcp')).toBeUndefined();
    expect(serviceName(69, 'udp')).toBe('tftp');
  });

  it('answers undefined for unknown ports', () => {
    expect(serviceName(1, 'tcp')).toBeUndefined();
    expect(serviceName(54321, 'udp')).toBeUndefined();
  });
});
