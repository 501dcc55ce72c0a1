import { formatAuthResult, MapResults, type AuthResult, type EnvelopeAddress, type SessionView, type TransactionView, type Verdict } from '@postern/sdk';
import type { SMTPServerSession } from 'smtp-server';
import type { Pipeline } from '../pipeline/pipeline.js';
import { foldHeader } from './fold-header.js';
import type { Lease } from '../plugin-host/plugin-host.js';
import type { SmtpListenerConfig } from '../config/types.js';

/** A verdict as recorded for the transaction log line. */
export interface LoggedVerdict {
  hook: string;
  action: string;
  by?: string;
  reason?: string;
}

/**
 * The transaction a plugin sees (TransactionView) plus what the core tracks alongside it.
 * Created at MAIL FROM; smtp-server starts a new one after DATA or RSET.
 */
export class SmtpTransaction implements TransactionView {
  readonly id: string;
  readonly mailFrom: EnvelopeAddress;
  readonly recipients: EnvelopeAddress[] = [];
  readonly results = new MapResults();
  readonly addedHeaders: Array<readonly [string, string]> = [];
  readonly verdicts: LoggedVerdict[] = [];
  readonly authResults: AuthResult[] = [];
  message: Buffer | undefined;
  /** Set by a quarantine verdict at DATA. */
  folder: string | undefined;
  discarded = false;
  /** The first quarantine verdict of the data hook: it does not stop later taps (see HoldsQuarantine). */
  heldQuarantine: Verdict | undefined;
  /** True while the data hook runs: the only time `replaceMessage` is allowed. */
  inDataHook = false;

  constructor(id: string, mailFrom: EnvelopeAddress) {
    this.id = id;
    this.mailFrom = mailFrom;
  }

  addHeader(name: string, value: string): void {
    if (!/^[!-9;-~]+$/.test(name)) throw new TypeError(`invalid header name: ${JSON.stringify(name)}`);
    // A header value may not smuggle in a new header line: collapse line breaks into folding.
    const clean = value.replace(/\r?\n(?![ \t])/g, '\r\n\t').replace(/\r(?!\n)|(?<!\r)\n/g, ' ');
    this.addedHeaders.push([name, foldHeader(name, clean)]);
  }

  addAuthResult(result: AuthResult): void {
    formatAuthResult(result); // throws a TypeError for what would break the header's syntax
    this.authResults.push({ ...result, ...(result.props ? { props: { ...result.props } } : {}) });
  }

  replaceMessage(message: Buffer): void {
    if (!Buffer.isBuffer(message)) throw new TypeError('tx.replaceMessage(message): message must be a Buffer');
    if (!this.inDataHook) throw new TypeError('tx.replaceMessage: only in the data hook');
    this.message = message;
  }

  holdQuarantine(verdict: Verdict): void {
    this.heldQuarantine ??= verdict;
  }

  note(hook: string, verdict: Verdict | undefined): void {
    if (!verdict) return;
    const entry: LoggedVerdict = { hook, action: verdict.action };
    if (verdict.by) entry.by = verdict.by;
    if (verdict.reason) entry.reason = verdict.reason;
    this.verdicts.push(entry);
  }
}

/**
 * Everything the core keeps about one SMTP connection. It is also the SessionView plugins get:
 * live getters read smtp-server's session, so `secure` turns true after STARTTLS.
 */
export class SmtpSessionState implements SessionView {
  readonly protocol = 'smtp' as const;
  readonly results = new MapResults();
  readonly #raw: SMTPServerSession;
  /** The plugin generation this session started with; it keeps it to the end (released at close). */
  readonly lease: Lease;
  readonly listenerConfig: SmtpListenerConfig;
  readonly trusted: boolean;
  transaction: SmtpTransaction | undefined;
  /** The HELO name the helo hook last approved (it runs lazily, see on-mail-from.ts). */
  heloChecked: string | undefined;
  /** Counts toward the per-IP connection limit (false when refused before it was counted). */
  counted = false;

  constructor(raw: SMTPServerSession, lease: Lease, listener: SmtpListenerConfig, trusted: boolean) {
    this.#raw = raw;
    this.lease = lease;
    this.listenerConfig = listener;
    this.trusted = trusted;
  }

  get pipeline(): Pipeline {
    return this.lease.generation.pipeline;
  }
  get id(): string {
    return this.#raw.id;
  }
  get listener(): string {
    return this.listenerConfig.name;
  }
  get remoteAddress(): string {
    return this.#raw.remoteAddress;
  }
  get remotePort(): number {
    return this.#raw.remotePort;
  }
  get localAddress(): string {
    return this.#raw.localAddress;
  }
  get localPort(): number {
    return this.#raw.localPort;
  }
  get secure(): boolean {
    return this.#raw.secure;
  }
  get helo(): string | undefined {
    return this.#raw.hostNameAppearsAs || undefined;
  }
  get user(): string | undefined {
    const user = this.#raw.user as unknown;
    return typeof user === 'string' ? user : undefined;
  }
  /** The protocol word for Received (RFC 3848): ESMTP, ESMTPS, ESMTPA, ESMTPSA. */
  get withProtocol(): string {
    const raw = this.#raw as SMTPServerSession & { openingCommand?: string };
    const base = raw.openingCommand === 'HELO' ? 'SMTP' : 'ESMTP';
    return base + (this.secure ? 'S' : '') + (this.user ? 'A' : '');
  }
}

const STATE = Symbol('postern.session');

export function attachState(raw: SMTPServerSession, state: SmtpSessionState): void {
  (raw as unknown as Record<symbol, SmtpSessionState>)[STATE] = state;
}

export function stateOf(raw: SMTPServerSession): SmtpSessionState | undefined {
  return (raw as unknown as Record<symbol, SmtpSessionState | undefined>)[STATE];
}
