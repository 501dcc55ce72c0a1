export type KeyKind = 'ip' | 'sender' | 'user';
export type LimitAction = 'tempfail' | 'disconnect';

export interface Exemptions {
  /** Clients in relay.trustedNetworks (`session.trusted`). */
  trusted: boolean;
  /** Sessions that passed SMTP AUTH (`session.user` set). */
  authenticated: boolean;
  /** Clients or senders the access plugin allowlisted (`results.get('access').allow`). */
  allowlisted: boolean;
}

export interface RateLimitOptions {
  /** Messages (MAIL FROM commands) allowed per key per window. */
  limit: number;
  windowSec: number;
  /** What is counted: the client IP, the envelope sender, or the AUTH user (IP when not logged in). */
  key: KeyKind;
  /** tempfail: 451 and the session goes on; disconnect: 421 and the connection is closed. */
  action: LimitAction;
  /** Shown to the refused client. */
  message: string;
  exempt: Exemptions;
}

export const defaults: RateLimitOptions = {
  limit: 120,
  windowSec: 60,
  key: 'ip',
  action: 'tempfail',
  message: 'Too many messages, slow down',
  exempt: { trusted: true, authenticated: false, allowlisted: true },
};

const KEYS: readonly string[] = ['ip', 'sender', 'user'];
const ACTIONS: readonly string[] = ['tempfail', 'disconnect'];

/** "key: reason" errors for every bad option. */
export function validate(options: RateLimitOptions): string[] {
  const errors: string[] = [];
  if (!Number.isInteger(options.limit) || options.limit < 1) errors.push('limit: must be an integer >= 1');
  if (typeof options.windowSec !== 'number' || !Number.isFinite(options.windowSec) || options.windowSec <= 0) {
    errors.push('windowSec: must be a number > 0');
  }
  if (!KEYS.includes(options.key)) errors.push(`key: must be one of ${KEYS.join(', ')}`);
  if (!ACTIONS.includes(options.action)) errors.push(`action: must be one of ${ACTIONS.join(', ')}`);
  if (typeof options.message !== 'string' || options.message.trim() === '') errors.push('message: must be a non-empty string');
  const exempt: unknown = options.exempt;
  if (exempt !== undefined) {
    if (typeof exempt !== 'object' || exempt === null || Array.isArray(exempt)) {
      errors.push('exempt: must be a map of trusted, authenticated, allowlisted');
    } else {
      for (const [name, value] of Object.entries(exempt)) {
        if (!(name in defaults.exempt)) errors.push(`exempt.${name}: unknown key (expected trusted, authenticated or allowlisted)`);
        else if (typeof value !== 'boolean') errors.push(`exempt.${name}: must be true or false`);
      }
    }
  }
  return errors;
}
