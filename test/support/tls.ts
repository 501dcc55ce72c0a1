import { generateKeyPairSync } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import selfsigned from 'selfsigned';

let cached: { key: string; cert: string } | undefined;

/**
 * A self-signed certificate for mx.example.test (RSA 2048, SHA-256, so OpenSSL's default security
 * level in python3 accepts it). The key is made with node:crypto (fast) and signed by `selfsigned`;
 * one pair per test process is enough. Clients in the tests never verify it.
 */
export function testCertificate(): { key: string; cert: string } {
  if (!cached) {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', {
      modulusLength: 2048,
      publicKeyEncoding: { type: 'spki', format: 'pem' },
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    });
    const pems = selfsigned.generate([{ name: 'commonName', value: 'mx.example.test' }], {
      days: 30,
      algorithm: 'sha256',
      keyPair: { privateKey, publicKey },
      extensions: [{ name: 'subjectAltName', altNames: [{ type: 2, value: 'mx.example.test' }, { type: 7, ip: '127.0.0.1' }] }],
    } as Parameters<typeof selfsigned.generate>[1]);
    cached = { key: pems.private, cert: pems.cert };
  }
  return cached;
}

/** Write key.pem and cert.pem into `dir` (created); returns their paths. */
export async function writeTestCertificate(dir: string): Promise<{ key: string; cert: string }> {
  const { key, cert } = testCertificate();
  await mkdir(dir, { recursive: true });
  const paths = { key: join(dir, 'key.pem'), cert: join(dir, 'cert.pem') };
  await writeFile(paths.key, key, { mode: 0o600 });
  await writeFile(paths.cert, cert);
  return paths;
}
