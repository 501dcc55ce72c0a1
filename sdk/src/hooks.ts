import type { Delivery, DeliveryEvent } from './delivery.js';
import type { AuthAttempt, EnvelopeAddress, SessionView, TransactionView } from './envelope.js';
import type { Verdict } from './verdict.js';

/**
 * Every hook of Postern, declared once. The core builds one tapable hook per entry (see
 * core/src/pipeline/hook-registry.ts); plugins tap them through `api.tap(name, fn)`.
 *
 * Policy hooks run their taps in series, in stage order, and stop at the first tap that returns a
 * Verdict ("bail"). Event hooks run all taps in parallel and ignore what they return.
 *
 * SMTP order: connect → helo → (auth) → mailFrom → rcptTo (once per recipient) → data → deliver,
 * then one of the events delivered / deferred / bounced per recipient outcome.
 */
export interface HookSignatures {
  /**
   * A client connected, before the greeting. Fires for SMTP (and later IMAP/POP3).
   * Before: the listener accepted the socket and the core checked its connection limits.
   * After: the banner is sent, or the verdict's reply and a close.
   * Return: a Verdict to refuse (reject/tempfail/disconnect all close the connection) or `accept`
   * to skip later connect taps; `undefined` to continue.
   */
  connect: { args: [session: SessionView]; result: Verdict | undefined };
  /**
   * HELO/EHLO received. `hostname` is what the client said.
   * Before: connect. After: mailFrom (or auth / STARTTLS).
   * Return: a Verdict to refuse the greeting (the client may try again), or `undefined`.
   */
  helo: { args: [session: SessionView, hostname: string]; result: Verdict | undefined };
  /**
   * A login whose credentials the directory accepted (SMTP AUTH, later IMAP LOGIN/POP3 PASS).
   * Taps can still refuse it (e.g. a login from a country the account never uses).
   * Before: helo (SMTP). After: mailFrom.
   * Return: reject/tempfail to refuse the login (535/454), or `undefined`.
   */
  auth: { args: [session: SessionView, attempt: AuthAttempt]; result: Verdict | undefined };
  /**
   * MAIL FROM received; `tx.mailFrom` is set and `tx.id` (the queue id) assigned.
   * Before: helo/auth. After: rcptTo.
   * Return: a Verdict to refuse the sender, or `undefined`.
   */
  mailFrom: { args: [session: SessionView, tx: TransactionView]; result: Verdict | undefined };
  /**
   * RCPT TO received for `recipient`, after the core's own checks (relay control, unknown user,
   * quota), so taps only see recipients the core would accept.
   * Before: mailFrom. After: the next rcptTo, or data.
   * Return: a Verdict to refuse this recipient, or `undefined`.
   */
  rcptTo: { args: [session: SessionView, tx: TransactionView, recipient: EnvelopeAddress]; result: Verdict | undefined };
  /**
   * The whole message has been received (`tx.message`) and passed the core's checks (size, line
   * endings), but nothing is spooled yet. Taps may add headers with `tx.addHeader`, record
   * `tx.addAuthResult`, and rewrite the message with `tx.replaceMessage`.
   * Before: rcptTo. After: the core adds Authentication-Results and Received, the message is
   * spooled and fsync'd, 250 is sent, then deliver.
   * Return: reject/tempfail/disconnect to refuse the message, discard to accept and drop it, or
   * `undefined`/accept to accept. `quarantine` does not stop later taps (a virus scan after a
   * spam verdict still runs, a later reject still wins, signing still happens): the message goes
   * into the folder of the first quarantine verdict unless a later tap refuses it.
   */
  data: { args: [session: SessionView, tx: TransactionView]; result: Verdict | undefined };
  /**
   * A spooled message is being delivered. Taps run in stage order; each settles the recipients it
   * handles (`delivery.settle`). The core's local delivery is the tap at `DeliverStage.LOCAL`; taps
   * at `DeliverStage.ROUTE` run before it and may rewrite `recipient.address` or settle recipients.
   * Before: data (first attempt) or the retry timer. After: delivered / deferred / bounced events.
   * Return: nothing.
   */
  deliver: { args: [delivery: Delivery]; result: void };
  /** Event: a message was spooled (after the 250). Taps run in parallel; return nothing. */
  queued: { args: [event: DeliveryEvent]; result: void };
  /** Event: some recipients were delivered. Taps run in parallel; return nothing. */
  delivered: { args: [event: DeliveryEvent]; result: void };
  /** Event: some recipients were deferred and will be retried. Taps run in parallel; return nothing. */
  deferred: { args: [event: DeliveryEvent]; result: void };
  /** Event: some recipients failed permanently (a bounce is due). Taps run in parallel; return nothing. */
  bounced: { args: [event: DeliveryEvent]; result: void };
}

export type HookName = keyof HookSignatures;
export type HookArgs<H extends HookName> = HookSignatures[H]['args'];
export type HookResult<H extends HookName> = HookSignatures[H]['result'];

/** The policy hooks: series, bail on the first Verdict. */
export const POLICY_HOOKS = ['connect', 'helo', 'auth', 'mailFrom', 'rcptTo', 'data'] as const satisfies readonly HookName[];
/** The delivery hook: series, every tap until all recipients are settled. */
export const DELIVERY_HOOKS = ['deliver'] as const satisfies readonly HookName[];
/** The event hooks: parallel, results ignored. */
export const EVENT_HOOKS = ['queued', 'delivered', 'deferred', 'bounced'] as const satisfies readonly HookName[];

export type PolicyHookName = (typeof POLICY_HOOKS)[number];
export type EventHookName = (typeof EVENT_HOOKS)[number];

/**
 * Named stages order the taps of one hook (lower runs first). Use these, not bare numbers.
 * @example
 * api.tap('rcptTo', checkGreylist, { stage: Stage.DEFAULT });
 */
export const Stage = Object.freeze({
  /** Allow/deny lists: decide before anything expensive runs. */
  ACCESS: -300,
  /** Cheap checks: limits, syntax, local lookups. */
  EARLY: -200,
  /** DNS-based reputation (DNSBL, SPF, PTR). */
  REPUTATION: -100,
  /** The default for most policy taps. */
  DEFAULT: 0,
  /** Content scanners (antivirus, antispam). */
  CONTENT: 100,
  /** Message rewrites (disclaimers, signatures) in the data hook. */
  REWRITE: 200,
  /** Signing (DKIM) must be the last modification before spooling. */
  SIGN: 900,
});

/** Stages of the `deliver` hook. */
export const DeliverStage = Object.freeze({
  /** Routing: rewrite or settle recipients before any transport runs. */
  ROUTE: -100,
  /** The core's local Maildir delivery. */
  LOCAL: 1000,
  /** The outbound transport (remote domains). */
  REMOTE: 2000,
});
