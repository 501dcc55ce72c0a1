/**
 * A Verdict is a policy decision, expressed as data. Policy hooks (connect, helo, auth, mailFrom,
 * rcptTo, data) return one to stop the hook and decide; returning `undefined` means "no opinion,
 * ask the next tap".
 *
 * `message` is shown to the SMTP client, so it must never leak policy internals (which list, which
 * score); put those in `reason`, which only goes to the log.
 */
export type VerdictAction = 'accept' | 'reject' | 'tempfail' | 'disconnect' | 'quarantine' | 'discard';

export interface Verdict {
  action: VerdictAction;
  /** SMTP reply code, e.g. 550. Defaults depend on the action and the stage (see docs/reference/hooks.md). */
  code?: number;
  /** RFC 3463 enhanced status code, e.g. "5.7.1". */
  enhanced?: string;
  /** Text safe to show the client. */
  message?: string;
  /** Why, for the log only. */
  reason?: string;
  /** For `quarantine`: the mailbox folder to deliver into (default "Junk"). */
  folder?: string;
  /** Set by the core, not by plugins: the name of the plugin whose tap returned this verdict. */
  by?: string;
}

type VerdictFields = Omit<Verdict, 'action'>;

function make(action: VerdictAction, message: string | undefined, fields: VerdictFields | undefined): Verdict {
  const verdict: Verdict = { action, ...fields };
  if (message !== undefined) verdict.message = message;
  return verdict;
}

/**
 * Accept now and skip the remaining taps of this hook.
 * @example
 * api.tap('mailFrom', (session) => (isTrusted(session.remoteAddress) ? accept() : undefined));
 */
export const accept = (fields?: VerdictFields): Verdict => make('accept', undefined, fields);

/**
 * Refuse permanently (5xx).
 * @example
 * return reject('Sender address rejected', { code: 550, enhanced: '5.7.1', reason: 'blocklisted domain' });
 */
export const reject = (message?: string, fields?: VerdictFields): Verdict => make('reject', message, fields);

/**
 * Refuse temporarily (4xx); the client should retry later.
 * @example
 * return tempfail('Greylisted, try again in 5 minutes', { code: 451, enhanced: '4.7.1' });
 */
export const tempfail = (message?: string, fields?: VerdictFields): Verdict => make('tempfail', message, fields);

/**
 * Reply 421 and close the connection.
 * @example
 * return disconnect('Too many connections from your address');
 */
export const disconnect = (message?: string, fields?: VerdictFields): Verdict => make('disconnect', message, fields);

/**
 * Accept, but deliver into a quarantine folder (default "Junk") instead of the inbox.
 * @example
 * return quarantine({ folder: 'Junk', reason: 'spam score 7.2' });
 */
export const quarantine = (fields?: VerdictFields): Verdict => make('quarantine', undefined, fields);

/**
 * Accept with 250 and silently drop. The drop is always logged.
 * @example
 * return discard({ reason: 'known backscatter' });
 */
export const discard = (fields?: VerdictFields): Verdict => make('discard', undefined, fields);

const ACTIONS: ReadonlySet<string> = new Set(['accept', 'reject', 'tempfail', 'disconnect', 'quarantine', 'discard']);

/**
 * True when `value` is a well-formed Verdict. The pipeline uses it to refuse garbage from a tap.
 * @example
 * isVerdict({ action: 'reject' }); // true
 */
export function isVerdict(value: unknown): value is Verdict {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  if (typeof v.action !== 'string' || !ACTIONS.has(v.action)) return false;
  if (v.code !== undefined && (typeof v.code !== 'number' || v.code < 200 || v.code > 599)) return false;
  if (v.enhanced !== undefined && (typeof v.enhanced !== 'string' || !/^[245]\.\d{1,3}\.\d{1,3}$/.test(v.enhanced))) return false;
  if (v.message !== undefined && typeof v.message !== 'string') return false;
  return true;
}
