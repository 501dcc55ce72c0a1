/**
 * Password hashing with scrypt (node:crypto). The stored form carries its own parameters,
 * `$scrypt$N=16384,r=8,p=1$<salt b64>$<hash b64>`, so the cost can be raised later without
 * breaking the hashes already stored.
 */
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { ErrorCode, PosternError } from '../errors.js';

/** Shorter passwords are refused with WEAK_PASSWORD. */
export const MIN_PASSWORD_LENGTH = 8;

const PARAMS = { N: 16384, r: 8, p: 1 } as const;
const SALT_BYTES = 16;
const KEY_BYTES = 32;
/** Upper bound on N read back from a stored hash, so a tampered row cannot make us allocate gigabytes. */
const MAX_N = 1 << 20;

function derive(password: string, salt: Buffer, keyLength: number, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password, salt, keyLength, options, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

/** NFC, as RFC 8265 (OpaqueString) asks, so the same password typed on two systems matches. */
function prepare(password: string): string {
  return password.normalize('NFC');
}

/**
 * Refuse empty or too short passwords.
 * @throws PosternError WEAK_PASSWORD
 */
export function checkPassword(password: string): void {
  if ([...password].length < MIN_PASSWORD_LENGTH) {
    throw new PosternError(ErrorCode.WEAK_PASSWORD, `password must be at least ${MIN_PASSWORD_LENGTH} characters`);
  }
}

/** Hash a password for storage. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const key = await derive(prepare(password), salt, KEY_BYTES, { ...PARAMS, maxmem: 256 * PARAMS.N * PARAMS.r });
  return `$scrypt$N=${PARAMS.N},r=${PARAMS.r},p=${PARAMS.p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

interface Decoded {
  N: number;
  r: number;
  p: number;
  salt: Buffer;
  key: Buffer;
}

function decode(encoded: string): Decoded | undefined {
  const m = /^\$scrypt\$N=(\d+),r=(\d+),p=(\d+)\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$/.exec(encoded);
  if (!m) return undefined;
  const [N, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (N < 2 || N > MAX_N || (N & (N - 1)) !== 0 || r < 1 || r > 32 || p < 1 || p > 16) return undefined;
  const salt = Buffer.from(m[4]!, 'base64');
  const key = Buffer.from(m[5]!, 'base64');
  if (salt.length === 0 || key.length === 0) return undefined;
  return { N, r, p, salt, key };
}

/** True when `password` matches the stored hash. A malformed hash never matches. */
export async function verifyPasswordHash(password: string, encoded: string): Promise<boolean> {
  const d = decode(encoded);
  if (!d) return false;
  const key = await derive(prepare(password), d.salt, d.key.length, { N: d.N, r: d.r, p: d.p, maxmem: 256 * d.N * d.r });
  return timingSafeEqual(key, d.key);
}

let dummy: Promise<string> | undefined;

/**
 * A real hash of a random password, made once per process. Checking a login for an unknown user
 * against it costs the same scrypt as for a known one, so response time does not reveal which
 * addresses exist.
 */
export function dummyPasswordHash(): Promise<string> {
  dummy ??= hashPassword(randomBytes(24).toString('base64'));
  return dummy;
}
