import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../errors.js';
import { ncConnect, ncListen } from './nc.js';

const udpSockets = (): number => process.getActiveResourcesInfo().filter((r) => r === 'UDPWrap').length;

describe('nc over UDP', () => {
  it('refuses a bad datagram size or quit delay before it opens a socket, which would keep the process alive', async () => {
    const io = () => ({ input: new PassThrough(), output: new PassThrough(), udp: true });
    const before = udpSockets();
    await expect(ncConnect({ ...io(), host: '127.0.0.1', port: 9, datagramSize: 0 })).rejects.toMatchObject({
      code: ErrorCode.INVALID_ARGUMENT,
    });
    await expect(ncListen({ ...io(), host: '127.0.0.1', port: 0, quitAfterMs: -1 })).rejects.toMatchObject({
      code: ErrorCode.INVALID_ARGUMENT,
    });
    expect(udpSockets()).toBe(before);
  });
});
