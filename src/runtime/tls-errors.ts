/**
 * A TLS client's failures as errors that say what to do instead of OpenSSL's words: a server
 * without TLS (`ERR_TLS_HANDSHAKE`), a certificate not trusted or not naming the host
 * (`ERR_TLS_CERTIFICATE`).
 */
import type { PeerCertificate } from 'node:tls';
import { ErrorCode, SockitError } from '../errors.js';

/** OpenSSL's verification failures (X509_V_ERR_*), as Node names them in `err.code`. */
const UNTRUSTED = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY',
  'CERT_SIGNATURE_FAILURE',
  'CERT_NOT_YET_VALID',
  'CERT_HAS_EXPIRED',
  'CERT_REVOKED',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'CERT_CHAIN_TOO_LONG',
  'INVALID_CA',
  'INVALID_PURPOSE',
  'PATH_LENGTH_EXCEEDED',
]);

const ASK_TLS = 'is it started with --tls-cert and --tls-key?';

/**
 * The error for `err`, met by a TLS client of `where` (`host:port`) before its handshake
 * completed; undefined when it is no TLS failure (a refused connection, a name that does not
 * resolve), which the caller words itself.
 *
 * @example
 * ```ts
 * socket.once('error', (err) => reject(tlsConnectError(err, '127.0.0.1:7021') ?? err));
 * // the server at 127.0.0.1:7021 did not answer TLS (wrong version number); is it started with --tls-cert and --tls-key?
 * ```
 */
export function tlsConnectError(err: Error, where: string): SockitError | undefined {
  const sys = err as NodeJS.ErrnoException & { reason?: string; cert?: PeerCertificate };
  const code = sys.code ?? '';
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    const held = sys.cert?.subjectaltname || (sys.cert?.subject?.CN && `CN=${sys.cert.subject.CN}`);
    const names = held ? ` (${held})` : '';
    return new SockitError(
      ErrorCode.TLS_CERTIFICATE,
      `the certificate of ${where} does not name the host connected to; connect by a name it holds${names}`,
      { cause: err },
    );
  }
  if (UNTRUSTED.has(code)) {
    // Node appends advice about --use-system-ca, which is not what to do here.
    const why = err.message.split(';')[0];
    return new SockitError(
      ErrorCode.TLS_CERTIFICATE,
      `the certificate of ${where} is not trusted (${why}); give the server's certificate, or the CA ` +
        'that issued it, with --tls-ca FILE',
      { cause: err },
    );
  }
  // A plain server answers a ClientHello with bytes that are no TLS record, or hangs up.
  if (code.startsWith('ERR_SSL_') || code === 'ECONNRESET' || code === 'EPIPE') {
    const why = sys.reason ?? (code.startsWith('ERR_SSL_') ? code : 'the connection was closed');
    return tlsHandshakeError(where, why, err);
  }
  return undefined;
}

/** The server at `where` did not complete a TLS handshake, for the reason `why`. */
export function tlsHandshakeError(where: string, why: string, cause?: unknown): SockitError {
  return new SockitError(
    ErrorCode.TLS_HANDSHAKE,
    `the server at ${where} did not answer TLS (${why}); ${ASK_TLS}`,
    { cause },
  );
}
