/**
 * A self-signed certificate for a fresh install, so STARTTLS and port 465 work from the first
 * start. Mail servers deliver to self-signed MX hosts (opportunistic TLS does not verify), and
 * the admin can replace the pair with a CA-issued one later (config tls.key / tls.cert).
 */
import { generateKeyPairSync } from 'node:crypto';
import selfsigned from 'selfsigned';

/** 825 days: the longest validity Apple platforms still accept for a TLS server certificate. */
export const CERT_DAYS = 825;

export interface PemPair {
  key: string;
  cert: string;
}

export function selfSignedCertificate(hostname: string, days = CERT_DAYS): PemPair {
  // node:crypto makes the RSA key natively in milliseconds; node-forge (selfsigned's default) takes seconds.
  const keys = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
  });
  const options = {
    days,
    algorithm: 'sha256',
    keyPair: { privateKey: keys.privateKey, publicKey: keys.publicKey },
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: [{ type: 2, value: hostname }] },
    ],
  };
  const pems = selfsigned.generate([{ name: 'commonName', value: hostname }], options);
  return { key: pems.private, cert: pems.cert };
}
