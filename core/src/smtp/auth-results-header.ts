import { formatAuthenticationResults, type AuthResult } from '@postern/sdk';

const CRLF_CRLF = Buffer.from('\r\n\r\n');

/** The authserv-id of an Authentication-Results value: its first token, after any comments. */
function authservIdOf(value: string): string {
  let rest = value.trimStart();
  // RFC 8601 allows CFWS before the id; comments may nest, which the depth count handles.
  while (rest.startsWith('(')) {
    let depth = 0;
    let i = 0;
    for (; i < rest.length; i++) {
      if (rest[i] === '\\') i++;
      else if (rest[i] === '(') depth++;
      else if (rest[i] === ')' && --depth === 0) break;
    }
    rest = rest.slice(i + 1).trimStart();
  }
  const match = /^[^\s;()]+/.exec(rest);
  return (match?.[0] ?? '').replace(/^"(.*)"$/, '$1').toLowerCase();
}

/**
 * Remove the Authentication-Results header fields that claim our authserv-id from an incoming
 * message (RFC 8601 §5): only this server may speak for itself, so a sender cannot hand a user's
 * filter a forged "dkim=pass". Fields of other authserv-ids stay. Returns the same Buffer when
 * nothing is removed.
 */
export function stripForgedAuthResults(message: Buffer, authservId: string): { message: Buffer; removed: number } {
  const end = message.indexOf(CRLF_CRLF);
  const headerEnd = end === -1 ? message.length : end + 2;
  const head = message.subarray(0, headerEnd).toString('latin1');
  if (!/^authentication-results[ \t]*:/im.test(head)) return { message, removed: 0 };

  const ours = authservId.toLowerCase();
  // One entry per field: a line and the folded continuation lines after it.
  const fields = head.split(/\r\n(?![ \t])/);
  const kept: string[] = [];
  let removed = 0;
  for (const field of fields) {
    const m = /^authentication-results[ \t]*:(.*)$/is.exec(field);
    if (m && authservIdOf((m[1] ?? '').replace(/\r\n/g, '')) === ours) {
      removed++;
      continue;
    }
    kept.push(field);
  }
  if (removed === 0) return { message, removed: 0 };
  return { message: Buffer.concat([Buffer.from(kept.join('\r\n'), 'latin1'), message.subarray(headerEnd)]), removed };
}

/** The Authentication-Results header line (with CRLF) for what plugins recorded; '' when nothing was. */
export function authResultsHeader(authservId: string, results: readonly AuthResult[]): string {
  if (results.length === 0) return '';
  return `Authentication-Results: ${formatAuthenticationResults(authservId, results)}\r\n`;
}
