import { createPrivateKey } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { DOMAIN, SELECTOR } from './options.js';

/**
 * The key directory: `keyDir` when absolute, `<dataDir>/<keyDir>` when relative, `<dataDir>/dkim`
 * when empty. undefined when there is no dataDir to anchor it (a sandboxed plugin).
 */
export function resolveKeyDir(keyDir: string, dataDir: string | undefined): string | undefined {
  if (keyDir !== '' && isAbsolute(keyDir)) return keyDir;
  if (dataDir === undefined) return undefined;
  return resolve(dataDir, keyDir === '' ? 'dkim' : keyDir);
}

/**
 * `<keyDir>/<domain>/<selector>.key`: the one convention `postern dkim keygen` (core CLI) and this
 * plugin share. undefined for a domain or selector that is not a safe file name.
 */
export function keyPath(keyDir: string, domain: string, selector: string): string | undefined {
  if (!DOMAIN.test(domain) || !SELECTOR.test(selector)) return undefined;
  return join(keyDir, domain, `${selector}.key`);
}

export interface SigningKey {
  /** PEM, as mailauth takes it. */
  pem: string;
  /** From the key's type: rsa-sha256 or ed25519-sha256. */
  algorithm: 'rsa-sha256' | 'ed25519-sha256';
}

/**
 * Reads keys from the key directory, re-reading a file when its mtime changes (a rotated key is
 * used without a reload). `load` resolves undefined for a missing file and throws for a file that
 * is unreadable or not an RSA/Ed25519 private key.
 */
export class KeyStore {
  readonly #cache = new Map<string, { mtimeMs: number; key: SigningKey }>();

  async load(path: string): Promise<SigningKey | undefined> {
    let mtimeMs: number;
    try {
      mtimeMs = (await stat(path)).mtimeMs;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        this.#cache.delete(path);
        return undefined;
      }
      throw err;
    }
    const cached = this.#cache.get(path);
    if (cached?.mtimeMs === mtimeMs) return cached.key;
    const pem = await readFile(path, 'utf8');
    const type = createPrivateKey(pem).asymmetricKeyType;
    if (type !== 'rsa' && type !== 'ed25519') throw new Error(`${path}: a ${type ?? 'unknown'} key; DKIM signs with rsa or ed25519 keys`);
    const key: SigningKey = { pem, algorithm: type === 'rsa' ? 'rsa-sha256' : 'ed25519-sha256' };
    this.#cache.set(path, { mtimeMs, key });
    return key;
  }
}
