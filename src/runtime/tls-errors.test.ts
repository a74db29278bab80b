import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../errors.js';
import { tlsConnectError } from './tls-errors.js';

const failure = (code: string, message: string, more: object = {}) =>
  Object.assign(new Error(message), { code }, more);

describe('tlsConnectError', () => {
  it('says a server hung up or answered without TLS, and what to check', () => {
    const plain = tlsConnectError(
      failure(
        'ERR_SSL_WRONG_VERSION_NUMBER',
        '40:error:0A00010B:SSL routines::wrong version number:x.c:77:\n',
        {
          reason: 'wrong version number',
        },
      ),
      '127.0.0.1:7021',
    );
    expect(plain?.code).toBe(ErrorCode.TLS_HANDSHAKE);
    expect(plain?.message).toBe(
      'the server at 127.0.0.1:7021 did not answer TLS (wrong version number); is it started with --tls-cert and --tls-key?',
    );
    const hungUp = tlsConnectError(failure('ECONNRESET', 'Client network socket disconnected'), 'h:1');
    expect(hungUp?.message).toBe(
      'the server at h:1 did not answer TLS (the connection was closed); is it started with --tls-cert and --tls-key?',
    );
  });

  it('says a certificate is not trusted, without Node advice that does not apply', () => {
    const expired = tlsConnectError(failure('CERT_HAS_EXPIRED', 'certificate has expired'), 'h:1');
    expect(expired?.code).toBe(ErrorCode.TLS_CERTIFICATE);
    expect(expired?.message).toContain('is not trusted (certificate has expired); give the server');
    const selfSigned = tlsConnectError(
      failure(
        'DEPTH_ZERO_SELF_SIGNED_CERT',
        'self-signed certificate; if the root CA is installed locally, try --use-system-ca',
      ),
      'h:1',
    );
    expect(selfSigned?.message).not.toContain('use-system-ca');
  });

  it('leaves failures to reach the server to the caller', () => {
    expect(tlsConnectError(failure('ECONNREFUSED', 'connect ECONNREFUSED'), 'h:1')).toBeUndefined();
    expect(tlsConnectError(failure('ENOTFOUND', 'getaddrinfo ENOTFOUND h'), 'h:1')).toBeUndefined();
  });
});
