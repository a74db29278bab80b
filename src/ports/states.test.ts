import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../errors.js';
import { parseSocketState, socketState, ssStateName, TCP_STATES } from './states.js';

describe('socketState', () => {
  it('names the kernel TCP states by number (include/net/tcp_states.h)', () => {
    expect(socketState('tcp', 0x01)).toBe('ESTABLISHED');
    expect(socketState('tcp', 0x06)).toBe('TIME_WAIT');
    expect(socketState('tcp', 0x08)).toBe('CLOSE_WAIT');
    expect(socketState('tcp', 0x0a)).toBe('LISTEN');
    expect(socketState('tcp', 0x0c)).toBe('NEW_SYN_RECV');
    expect(socketState('tcp', 0x00)).toBe('UNKNOWN');
    expect(socketState('tcp', 0x0d)).toBe('UNKNOWN');
    expect(TCP_STATES).toHaveLength(12);
  });

  it('names UDP as ss does: UNCONN, or ESTABLISHED when connected', () => {
    expect(socketState('udp', 0x07)).toBe('UNCONN');
    expect(socketState('udp', 0x01)).toBe('ESTABLISHED');
    expect(socketState('udp', 0x0a)).toBe('UNKNOWN');
  });
});

describe('ssStateName and parseSocketState', () => {
  it('spell states as ss does', () => {
    expect(ssStateName('ESTABLISHED')).toBe('ESTAB');
    expect(ssStateName('FIN_WAIT1')).toBe('FIN-WAIT-1');
    expect(ssStateName('CLOSE')).toBe('UNCONN');
    expect(ssStateName('UNCONN')).toBe('UNCONN');
  });

  it.each([
    ['LISTEN', 'LISTEN'],
    ['listen', 'LISTEN'],
    ['ESTAB', 'ESTABLISHED'],
    ['established', 'ESTABLISHED'],
    ['time-wait', 'TIME_WAIT'],
    ['TIME_WAIT', 'TIME_WAIT'],
    ['fin-wait-2', 'FIN_WAIT2'],
    ['FIN_WAIT2', 'FIN_WAIT2'],
    ['unconn', 'UNCONN'],
    ['close-wait', 'CLOSE_WAIT'],
  ])('reads %j as %s', (text, state) => {
    expect(parseSocketState(text)).toBe(state);
  });

  it('refuses unknown names with ERR_INVALID_ARGUMENT', () => {
    for (const bad of ['bogus', '', 'UNKNOWN', 'LISTENING']) {
      expect(() => parseSocketState(bad)).toThrow(
        expect.objectContaining({ code: ErrorCode.INVALID_ARGUMENT }),
      );
    }
  });
});
