export type ClamavAction = 'reject' | 'quarantine' | 'notice';
export type ClamavOnError = 'tempfail' | 'accept';

export interface ClamavOptions {
  /** clamd's address (TCPAddr). */
  host: string;
  /** clamd's port (TCPSocket). */
  port: number;
  /** One scan, connect to verdict; past it the scan failed (see `onError`). Not `timeoutMs`: that is the host's tap timeout. */
  scanTimeoutMs: number;
  /** Larger messages are not scanned: accepted, recorded as skipped. */
  maxSizeBytes: number;
  /**
   * reject: 554 5.7.1; quarantine: deliver into the recipients' "Quarantine" folder; notice:
   * deliver to the inbox, instead of the message, a notice with the original attached (unrendered).
   */
  action: ClamavAction;
  /** clamd down, slow or failing: tempfail (451 4.7.1) or accept unscanned. */
  onError: ClamavOnError;
}

export const defaults: ClamavOptions = {
  host: '127.0.0.1',
  port: 3310,
  scanTimeoutMs: 10_000,
  maxSizeBytes: 25 * 1024 * 1024,
  action: 'reject',
  onError: 'tempfail',
};

const ACTIONS = new Set<string>(['reject', 'quarantine', 'notice']);
const ON_ERROR = new Set<string>(['tempfail', 'accept']);

const positive = (n: unknown): boolean => typeof n === 'number' && Number.isInteger(n) && n >= 1;

/** "key: reason" errors, one per problem. */
export function validate(options: ClamavOptions): string[] {
  const errors: string[] = [];
  if (typeof options.host !== 'string' || options.host.trim() === '' || /\s/.test(options.host)) errors.push('host: must be a host name or IP address');
  if (!positive(options.port) || options.port > 65535) errors.push('port: must be an integer from 1 to 65535');
  if (!positive(options.scanTimeoutMs)) errors.push('scanTimeoutMs: must be a positive integer (milliseconds)');
  if (!positive(options.maxSizeBytes)) errors.push('maxSizeBytes: must be a positive integer (bytes)');
  if (!ACTIONS.has(options.action)) errors.push('action: must be reject, quarantine or notice');
  if (!ON_ERROR.has(options.onError)) errors.push('onError: must be tempfail or accept');
  return errors;
}
