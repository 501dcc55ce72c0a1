/**
 * One authentication method's outcome, for the Authentication-Results header (RFC 8601) the core
 * writes at the end of DATA. Plugins record them with `tx.addAuthResult`; the core puts them all
 * in one header under the server's host name (the authserv-id) and removes headers that claim
 * that name from the incoming message, so a sender cannot forge our findings.
 * @example
 * tx.addAuthResult({ method: 'spf', result: 'pass', props: { 'smtp.mailfrom': 'alice@example.test' } });
 * // Authentication-Results: mx.example.test; spf=pass smtp.mailfrom=alice@example.test
 */
export interface AuthResult {
  /** The method (RFC 8601 §2.7 and the IANA registry): 'spf', 'dkim', 'dmarc', 'arc', 'iprev', 'auth'. */
  method: string;
  /** The method's result keyword: 'pass', 'fail', 'softfail', 'neutral', 'none', 'temperror', 'permerror', 'policy'. */
  result: string;
  /** Free text explaining the result; written as `reason="..."`. */
  reason?: string;
  /**
   * `ptype.property` → value, in order: `smtp.mailfrom`, `smtp.helo`, `header.d`, `header.s`,
   * `header.i`, `header.b`, `header.from`, `policy.iprev`...
   */
  props?: Readonly<Record<string, string>>;
}

/** RFC 2045 token characters: anything else makes a value a quoted string. */
const TOKEN = /^[!#$%&'*+\-.0-9A-Z^_`a-z{|}~@]+$/;
const KEYWORD = /^[A-Za-z0-9-]+$/;
const PROPERTY = /^[A-Za-z0-9-]+\.[A-Za-z0-9_.-]+$/;

function value(v: string): string {
  const oneLine = v.replace(/[\r\n\t]+/g, ' ');
  return TOKEN.test(oneLine) ? oneLine : `"${oneLine.replace(/(["\\])/g, '\\$1')}"`;
}

/**
 * `method=result reason="..." ptype.prop=value ...` for one result. Throws a TypeError for a
 * method, result or property name that is not a keyword (RFC 8601 §2.2), so a bad plugin
 * cannot break the header's syntax.
 */
export function formatAuthResult(r: AuthResult): string {
  if (!KEYWORD.test(r.method)) throw new TypeError(`auth result: method ${JSON.stringify(r.method)} is not a keyword`);
  if (!KEYWORD.test(r.result)) throw new TypeError(`auth result: result ${JSON.stringify(r.result)} is not a keyword`);
  const parts = [`${r.method.toLowerCase()}=${r.result.toLowerCase()}`];
  if (r.reason !== undefined && r.reason !== '') parts.push(`reason=${value(r.reason)}`);
  for (const [name, v] of Object.entries(r.props ?? {})) {
    if (!PROPERTY.test(name)) throw new TypeError(`auth result: property ${JSON.stringify(name)} is not ptype.property`);
    if (v === '') continue;
    parts.push(`${name}=${value(v)}`);
  }
  return parts.join(' ');
}

/**
 * The value of an Authentication-Results header: `authserv-id; r1; r2`, folded one result per
 * line. With no results it is `authserv-id; none` (RFC 8601 §2.2).
 */
export function formatAuthenticationResults(authservId: string, results: readonly AuthResult[]): string {
  if (results.length === 0) return `${authservId}; none`;
  return [authservId, ...results.map(formatAuthResult)].join(';\r\n\t');
}
