/** A self-signed certificate (by default for 127.0.0.1 and localhost), made with openssl, for TLS tests. */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { requireTools } from './helpers.js';

/**
 * Writes `cert.pem` and `key.pem` (EC P-256, two days) into `dir` and returns their paths;
 * `subjectAltName` names what the certificate is for.
 */
export function selfSignedCertificate(
  dir: string,
  subjectAltName = 'DNS:localhost,IP:127.0.0.1',
): { cert: string; key: string } {
  requireTools('openssl');
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2']
      .concat(['-subj', '/CN=localhost', '-addext', `subjectAltName=${subjectAltName}`])
      .concat(['-keyout', key, '-out', cert]),
    { stdio: 'ignore' },
  );
  return { cert, key };
}
