import { dkimSign } from 'mailauth/lib/dkim/sign.js';
import type { TransactionView } from '@postern/sdk';
import type { SigningKey } from './keys.js';

export interface SignRequest {
  domain: string;
  selector: string;
  key: SigningKey;
}

export interface SignSettings {
  /** Header fields to sign; empty: mailauth's default list. */
  headerList: readonly string[];
  /** x= lifetime in seconds; 0: none. */
  expireSec: number;
}

/**
 * The bytes the core spools, as far as the data hook can know them: the headers added so far
 * (`Name: value` lines, in order) on top of `tx.message`. Authentication-Results and Received,
 * which the core prepends afterwards, are not in it (and not signed).
 */
export function spooledMessage(tx: Pick<TransactionView, 'addedHeaders' | 'message'>): Buffer {
  const added = tx.addedHeaders.map(([name, value]) => `${name}: ${value}\r\n`).join('');
  return Buffer.concat([Buffer.from(added, 'latin1'), tx.message ?? Buffer.alloc(0)]);
}

/**
 * DKIM-Signature values (without the `DKIM-Signature: ` prefix and the final CRLF; folded with
 * CRLF + space), one per request, in order: relaxed/relaxed, the key's algorithm.
 */
export async function signMessage(message: Buffer, requests: readonly SignRequest[], settings: SignSettings, now = new Date()): Promise<string[]> {
  if (requests.length === 0) return [];
  const result = await dkimSign(message, {
    canonicalization: 'relaxed/relaxed',
    signTime: now,
    ...(settings.expireSec > 0 ? { expires: new Date(now.getTime() + settings.expireSec * 1000) } : {}),
    ...(settings.headerList.length > 0 ? { headerList: settings.headerList.join(':') } : {}),
    signatureData: requests.map((r) => ({
      signingDomain: r.domain,
      selector: r.selector,
      privateKey: r.key.pem,
      algorithm: r.key.algorithm,
    })),
  } as never);
  if (result.errors.length > 0) throw new Error(`DKIM signing failed: ${result.errors.map((e) => e.message).join('; ')}`);
  return result.signatures
    .split(/\r\n(?![ \t])/)
    .filter((h) => h !== '')
    .map((h) => h.replace(/^DKIM-Signature:\s*/i, ''));
}
