export type SpamassassinOnError = 'tempfail' | 'accept';

export interface SpamassassinOptions {
  /** spamd's address (its --listen). */
  host: string;
  /** spamd's port (783 is spamd's default). */
  port: number;
  /** Connecting to spamd may take this long; past it the scan failed (see `onError`). */
  connectTimeoutMs: number;
  /** One scan, connect to verdict; past it the scan failed (see `onError`). Not `timeoutMs`: that is the host's tap timeout. */
  scanTimeoutMs: number;
  /** Larger messages are not scanned: accepted, recorded as skipped (spamc's default: 500 KiB). */
  maxSizeBytes: number;
  /** Scan with this user's SpamAssassin preferences (spamc -u, the `User:` header); null: spamd's default. */
  user: string | null;
  /** Spam at or above this score goes into `folder`; null: spamd's own verdict (its required_score). */
  markThreshold: number | null;
  /** At or above this score the message is refused with 550 5.7.1; null: never refused. */
  rejectThreshold: number | null;
  /** The folder of each local recipient that spam is delivered into. */
  folder: string;
  /** spamd down, slow or failing: tempfail (451 4.7.1) or accept unscanned. */
  onError: SpamassassinOnError;
  /** Do not scan mail from an authenticated client (SMTP AUTH: your own users' outbound mail). */
  skipAuthenticated: boolean;
  /** Do not scan mail from a client in relay.trustedNetworks. */
  skipTrusted: boolean;
}

export const defaults: SpamassassinOptions = {
  host: '127.0.0.1',
  port: 783,
  connectTimeoutMs: 2000,
  scanTimeoutMs: 15_000,
  maxSizeBytes: 500 * 1024,
  user: null,
  markThreshold: null,
  rejectThreshold: null,
  folder: 'Junk',
  onError: 'tempfail',
  skipAuthenticated: true,
  skipTrusted: true,
};

const ON_ERROR = new Set<string>(['tempfail', 'accept']);

const positive = (n: unknown): boolean => typeof n === 'number' && Number.isInteger(n) && n >= 1;
const score = (n: unknown): boolean => n === null || (typeof n === 'number' && Number.isFinite(n));

/** "key: reason" errors, one per problem. */
export function validate(options: SpamassassinOptions): string[] {
  const errors: string[] = [];
  if (typeof options.host !== 'string' || options.host.trim() === '' || /\s/.test(options.host)) errors.push('host: must be a host name or IP address');
  if (!positive(options.port) || options.port > 65535) errors.push('port: must be an integer from 1 to 65535');
  if (!positive(options.connectTimeoutMs)) errors.push('connectTimeoutMs: must be a positive integer (milliseconds)');
  if (!positive(options.scanTimeoutMs)) errors.push('scanTimeoutMs: must be a positive integer (milliseconds)');
  if (!positive(options.maxSizeBytes)) errors.push('maxSizeBytes: must be a positive integer (bytes)');
  if (options.user !== null && (typeof options.user !== 'string' || !/^[^\s\0]{1,128}$/.test(options.user))) {
    errors.push('user: must be null or a user name without spaces or control characters');
  }
  if (!score(options.markThreshold)) errors.push('markThreshold: must be null or a number (a SpamAssassin score)');
  if (!score(options.rejectThreshold)) errors.push('rejectThreshold: must be null or a number (a SpamAssassin score)');
  if (typeof options.markThreshold === 'number' && typeof options.rejectThreshold === 'number' && options.rejectThreshold < options.markThreshold) {
    errors.push('rejectThreshold: must not be below markThreshold');
  }
  if (typeof options.folder !== 'string' || !/^[^/\\\0\r\n.][^/\\\0\r\n]{0,99}$/.test(options.folder) || options.folder.toUpperCase() === 'INBOX') {
    errors.push('folder: must be a folder name other than INBOX (no "/", "\\", leading ".")');
  }
  if (!ON_ERROR.has(options.onError)) errors.push('onError: must be tempfail or accept');
  if (typeof options.skipAuthenticated !== 'boolean') errors.push('skipAuthenticated: must be true or false');
  if (typeof options.skipTrusted !== 'boolean') errors.push('skipTrusted: must be true or false');
  return errors;
}
