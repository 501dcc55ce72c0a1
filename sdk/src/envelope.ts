import type { AuthResult } from './auth-results.js';
import type { ResultsStore } from './results.js';

/** An envelope address as given in MAIL FROM / RCPT TO. The null sender `<>` has `address === ''`. */
export interface EnvelopeAddress {
  /** The address as the client sent it (local part case preserved). */
  address: string;
  /** Lower-cased domain, '' for the null sender. */
  domain: string;
  /** ESMTP parameters (SIZE, BODY, ...), upper-cased keys. */
  params: Readonly<Record<string, string | true>>;
}

/** What every protocol session (SMTP, later IMAP and POP3) shows a plugin. */
export interface SessionView {
  /** Unique id of the connection. */
  readonly id: string;
  readonly protocol: 'smtp' | 'imap' | 'pop3';
  /** Name of the listener from config (e.g. "mx", "submission"). */
  readonly listener: string;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  /** True once the connection is TLS (implicit or after STARTTLS). */
  readonly secure: boolean;
  /** The HELO/EHLO name, once given. */
  readonly helo: string | undefined;
  /** The authenticated user's address, once AUTH succeeded. */
  readonly user: string | undefined;
  /** True when the client is in relay.trustedNetworks. */
  readonly trusted: boolean;
  /** Results that live as long as the connection (e.g. DNSBL of the client IP). */
  readonly results: ResultsStore;
}

/** One SMTP transaction: MAIL FROM through the end of DATA. */
export interface TransactionView {
  /** The queue id; it appears in the 250 reply, the Received header and every log line. */
  readonly id: string;
  readonly mailFrom: EnvelopeAddress;
  /** Recipients accepted so far. */
  readonly recipients: readonly EnvelopeAddress[];
  /** Results that live as long as the transaction. */
  readonly results: ResultsStore;
  /** The message as received (headers and body, CRLF line endings), available from the `data` hook on. */
  readonly message: Buffer | undefined;
  /** Prepend a header to the stored message. Value is folded/sanitised by the core. */
  addHeader(name: string, value: string): void;
  /** Headers added so far, in order. */
  readonly addedHeaders: ReadonlyArray<readonly [string, string]>;
  /**
   * Record an authentication outcome (SPF, DKIM, DMARC, ARC, iprev) for the one
   * Authentication-Results header the core adds at the end of DATA (RFC 8601). Any hook with a
   * transaction may call it; throws a TypeError for a malformed method, result or property.
   */
  addAuthResult(result: AuthResult): void;
  /** The authentication outcomes recorded so far, in order. */
  readonly authResults: readonly AuthResult[];
  /**
   * Replace the message (headers and body, CRLF line endings) that will be spooled; headers added
   * with `addHeader` stay on top of it. Only in the `data` hook: rewrites at `Stage.REWRITE`
   * (disclaimers), or a scanner delivering a notice instead of the letter. Later taps see the new
   * message in `tx.message`. Throws a TypeError outside the data hook or for a non-Buffer.
   */
  replaceMessage(message: Buffer): void;
}

/** Arguments of the `auth` hook: a login the directory has already verified. */
export interface AuthAttempt {
  readonly username: string;
  readonly method: string;
}
