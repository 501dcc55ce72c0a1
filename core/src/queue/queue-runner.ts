import type { Delivery, DeliveryRecipient, DeliveryResult } from '@postern/sdk';
import type { Logger } from 'pino';
import type { QueueConfig } from '../config/types.js';
import { MessageDelivery } from '../delivery/message-delivery.js';
import { ErrorCode } from '../errors.js';
import { domainOf } from '../outbound/route.js';
import type { Pipeline } from '../pipeline/pipeline.js';
import type { PluginHost } from '../plugin-host/plugin-host.js';
import type { Spool, SpoolEnvelope, SpooledMessage } from '../spool/spool.js';
import { Bouncer } from './bouncer.js';
import type { QueuedMessage, QueuedRecipient, QueueStore, RecipientStatus } from './queue-store.js';
import { clampRetryAt, isDelayWarningDue, isExpired, nextAttemptAt } from './schedule.js';

/** One message the runner is working on (an attempt is running or about to). */
interface Entry {
  envelope: SpoolEnvelope;
  message: Buffer;
  recipients: DeliveryRecipient[];
  attempts: number;
  /** The queue store has rows for it (it went remote, or waited before). */
  tracked: boolean;
  warned: boolean;
  /** Per recipient address: how many attempts tried it, and when the last one did. */
  tries: Map<string, { attempts: number; lastAttemptAt?: number }>;
}

export interface QueueRunnerOptions {
  plugins: PluginHost;
  spool: Spool;
  store: QueueStore;
  schedule: QueueConfig;
  /** Our host name: the DSNs' Reporting-MTA. */
  hostname: string;
  log: Logger;
  now?: () => number;
}

/** How many due messages one scheduler pass starts. */
const DUE_BATCH = 200;
/** The scheduler looks for due messages at least this often (an admin's `queue retry` is seen within it). */
const SCAN_INTERVAL_MS = 1000;
/**
 * Finished messages keep their rows this long, so a spool replay after a crash does not resend
 * them (the journal lets a settled message go within seconds; parked files go at once).
 */
const DONE_RETENTION_MS = 10 * 60 * 1000;

/**
 * The queue: runs the `deliver` hook for every spooled message and keeps at it until each
 * recipient is delivered or failed.
 *
 * - A new message gets its first attempt at once, from memory. A message that only had local
 *   recipients and was delivered never touches the queue store.
 * - A message with remote recipients is written to the store before the first connection (status
 *   in-flight), and again with each recipient's result after the attempt.
 * - A message with deferred recipients is parked in the spool and scheduled (schedule.ts); the
 *   scheduler loads it back when due. Held messages wait; expired ones bounce.
 * - Failed recipients produce one DSN to the sender (bouncer.ts), spooled before the original
 *   message is let go, so a crash in between never loses the bounce.
 *
 * Restart: `recover` takes what the spool holds and what the store knows. A recipient the store
 * has as delivered is not sent again. A remote 250 whose row was not written yet (the process died
 * between the reply and the write, a few milliseconds) is sent again: at-least-once.
 */
export class QueueRunner {
  readonly #opts: QueueRunnerOptions;
  readonly #now: () => number;
  readonly #bouncer: Bouncer;
  /** Messages with an attempt running or about to run, by id. */
  readonly #active = new Map<string, Entry>();
  readonly #running = new Set<Promise<void>>();
  #timer: NodeJS.Timeout | undefined;
  #lastPurge = 0;
  #closed = false;

  constructor(options: QueueRunnerOptions) {
    this.#opts = options;
    this.#now = options.now ?? Date.now;
    this.#bouncer = new Bouncer({ hostname: options.hostname, spool: options.spool, log: options.log, submit: (envelope, message) => this.submit(envelope, message) });
  }

  /** A message was just spooled (after its 250): first attempt now. */
  submit(envelope: SpoolEnvelope, message: Buffer): void {
    const entry = this.#entryFor(envelope, message, undefined, false);
    void this.#opts.plugins.current().pipeline.emit('queued', { id: envelope.id, sender: envelope.sender, recipients: entry.recipients.map((r) => ({ address: r.address })), size: message.length, attempt: 0 });
    this.#start(entry);
  }

  /**
   * After a restart: what the spool still holds, matched with what the store knows. Messages the
   * store has as done are let go; messages waiting for a later attempt or held are parked for the
   * scheduler; the rest are tried now. Store entries whose spool file is gone are dropped.
   */
  async recover(spooled: SpooledMessage[]): Promise<void> {
    const { store, spool, log } = this.#opts;
    const seen = new Set<string>();
    for (const { envelope, message } of spooled) {
      seen.add(envelope.id);
      const known = await store.get(envelope.id);
      if (known?.doneAt !== undefined) {
        log.info({ queueId: envelope.id }, 'spooled message was already delivered before the restart; not sending it again');
        await spool.settle(envelope.id);
        continue;
      }
      if (known && (known.held || (known.nextAttemptAt ?? 0) > this.#now())) {
        await spool.park(envelope, message);
        continue;
      }
      this.#start(this.#entryFor(envelope, message, known, true));
    }
    for (const orphan of (await store.list()).filter((m) => !seen.has(m.id))) {
      log.error({ queueId: orphan.id, code: ErrorCode.QUEUE_SPOOL_MISSING }, 'queued message has no spool file; dropping its queue entry');
      await store.delete({ id: orphan.id });
    }
  }

  /** Start the scheduler: due messages are loaded from the spool and tried. */
  start(): void {
    this.#schedule(0);
  }

  /**
   * Record the recipients an attempt is about to send to remote hosts (the outbound transport
   * calls this before its first connection), so `queue list` shows them and a crash mid-send is
   * known to have been mid-send.
   */
  async beforeSend(delivery: Delivery, recipients: DeliveryRecipient[]): Promise<void> {
    const entry = this.#active.get(delivery.id);
    if (!entry) return;
    const sending = new Set(recipients);
    await this.#save(entry, (r) => (sending.has(r) ? 'in-flight' : undefined));
  }

  /** Stop the scheduler and wait for attempts in flight (nothing is lost: spool and store keep the rest). */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    while (this.#running.size > 0) await Promise.all([...this.#running]);
  }

  #entryFor(envelope: SpoolEnvelope, message: Buffer, known: QueuedMessage | undefined, recovered: boolean): Entry {
    const recipients: DeliveryRecipient[] = known
      ? known.recipients.map(recipientFromRow)
      : envelope.recipients.map((address) => (envelope.folder ? { original: address, address, folder: envelope.folder } : { original: address, address }));
    // A recovered message may have been partly delivered: attempt numbers > 1 make local delivery
    // check for the copy it may already have written.
    const attempts = known?.attempts ?? (recovered ? 1 : 0);
    const tries = new Map((known?.recipients ?? []).map((r) => [r.address, { attempts: r.attempts, ...(r.lastAttemptAt !== undefined ? { lastAttemptAt: r.lastAttemptAt } : {}) }]));
    return { envelope, message, recipients, attempts, tracked: known !== undefined, warned: known?.warned ?? false, tries };
  }

  #start(entry: Entry): void {
    this.#active.set(entry.envelope.id, entry);
    const run = this.#attempt(entry)
      .catch((err: unknown) => this.#opts.log.error({ err, queueId: entry.envelope.id }, 'delivery attempt failed unexpectedly; the message stays queued'))
      .finally(() => {
        this.#active.delete(entry.envelope.id);
        this.#running.delete(run);
      });
    this.#running.add(run);
  }

  async #attempt(entry: Entry): Promise<void> {
    // Each attempt runs on the generation current when it starts, and holds it until it ends.
    const lease = this.#opts.plugins.acquire();
    try {
      await this.#attemptOn(entry, lease.generation.pipeline);
    } finally {
      lease.release();
    }
  }

  async #attemptOn(entry: Entry, pipeline: Pipeline): Promise<void> {
    const { log, spool, schedule } = this.#opts;
    const id = entry.envelope.id;
    entry.attempts++;
    for (const r of entry.recipients) if (r.result?.status === 'deferred') delete r.result;
    const settledBefore = new Set(entry.recipients.filter((r) => r.result !== undefined));
    const delivery = new MessageDelivery(entry.envelope, entry.message, entry.recipients, entry.attempts);
    try {
      await pipeline.deliver(delivery);
    } catch (err) {
      log.error({ err, queueId: id }, 'deliver hook failed');
    }
    for (const r of delivery.pending()) {
      delivery.settle(r, { status: 'deferred', code: 451, enhanced: '4.4.0', message: 'No transport accepted this recipient' });
    }
    const now = this.#now();
    // Everyone not settled before was tried, including recipients added during the attempt (an alias's remote targets).
    const tried = new Set(entry.recipients.filter((r) => !settledBefore.has(r)));
    for (const r of tried) entry.tries.set(r.address, { attempts: (entry.tries.get(r.address)?.attempts ?? 0) + 1, lastAttemptAt: now });

    const expired = isExpired(now, entry.envelope.receivedAt, schedule);
    if (expired) {
      const days = Math.round((schedule.maxTimeInQueueSec / 86400) * 10) / 10;
      for (const r of entry.recipients) {
        if (r.result?.status !== 'deferred') continue;
        r.result = { ...r.result, status: 'failed', message: `Gave up after ${days} days in the queue; last error: ${r.result.message ?? 'none'}` };
      }
    }
    // Record what the remote servers confirmed before anything else (and before the log says
    // so): from here on a restart does not send to those recipients again. When every recipient
    // is delivered this is the last write (done); otherwise bounces and the schedule follow.
    const allDelivered = entry.recipients.every((r) => r.result?.status === 'delivered');
    if (entry.tracked && !(await this.#save(entry, () => undefined, allDelivered ? { doneAt: now } : {}))) {
      log.info({ queueId: id }, 'message was deleted from the queue during its attempt; dropping it');
      await spool.settle(id);
      return;
    }
    for (const r of delivery.recipients) {
      if (!tried.has(r)) continue;
      const result = r.result;
      log.info(
        { queueId: id, from: entry.envelope.sender, to: r.address, original: r.original !== r.address ? r.original : undefined, size: entry.message.length, attempt: entry.attempts, status: result?.status, code: result?.code, enhanced: result?.enhanced, reply: result?.message, destination: result?.destination },
        'delivery',
      );
    }

    const failedNow = entry.recipients.filter((r) => tried.has(r) && r.result?.status === 'failed');
    const deferred = entry.recipients.filter((r) => r.result?.status === 'deferred');
    // Events report what this attempt decided, not recipients settled by an earlier one.
    const deliveredNow = entry.recipients.filter((r) => tried.has(r) && r.result?.status === 'delivered');
    const delivered = delivery.eventFor('delivered');
    if (delivered && deliveredNow.length > 0) void pipeline.emit('delivered', { ...delivered, recipients: delivered.recipients.filter((r) => deliveredNow.some((d) => d.address === r.address)) });
    const bounced = delivery.eventFor('failed');
    if (bounced && failedNow.length > 0) void pipeline.emit('bounced', { ...bounced, recipients: bounced.recipients.filter((r) => failedNow.some((f) => f.address === r.address)) });

    // The bounce is spooled before the original is let go: a crash in between sends it twice at worst.
    if (failedNow.length > 0) await this.#bouncer.bounce(entry.envelope, entry.message, failedNow, 'failure');

    if (deferred.length === 0) {
      if (entry.tracked && !allDelivered && !(await this.#save(entry, () => undefined, { doneAt: now }))) log.info({ queueId: id }, 'message was deleted from the queue during its attempt');
      await spool.settle(id).catch((err: unknown) => log.error({ err, queueId: id }, 'cannot settle spooled message'));
      return;
    }

    let retryAt = nextAttemptAt(now, entry.attempts, schedule);
    const event = delivery.eventFor('deferred');
    if (event) {
      await pipeline.emit('deferred', {
        ...event,
        nextAttemptAt: retryAt,
        retryAt: (when: number) => {
          if (Number.isFinite(when)) retryAt = clampRetryAt(when, now, entry.envelope.receivedAt, schedule);
        },
      });
    }
    if (isDelayWarningDue(now, entry.envelope.receivedAt, entry.warned, schedule)) {
      await this.#bouncer.bounce(entry.envelope, entry.message, deferred, 'delay', entry.envelope.receivedAt + schedule.maxTimeInQueueSec * 1000);
      entry.warned = true;
    }
    try {
      await spool.park(entry.envelope, entry.message);
    } catch (err) {
      // Still in the journal, which keeps it until it is settled: not lost, only not parked.
      log.error({ err, queueId: id }, 'cannot park deferred message (it stays in the journal)');
    }
    const wasTracked = entry.tracked;
    if (!(await this.#save(entry, () => undefined, { nextAttemptAt: retryAt }))) {
      log.info({ queueId: id }, 'message was deleted from the queue during its attempt; dropping it');
      await spool.settle(id);
      return;
    }
    if (!wasTracked) log.debug({ queueId: id }, 'message queued for a later attempt');
    this.#schedule(retryAt - now);
  }

  /**
   * Write the entry's state. `statusOf` may override a recipient's status (in-flight). Returns
   * false when the entry was tracked and its row is gone: an admin deleted the message.
   */
  async #save(entry: Entry, statusOf: (r: DeliveryRecipient) => RecipientStatus | undefined, extra: { nextAttemptAt?: number; doneAt?: number } = {}): Promise<boolean> {
    const { envelope } = entry;
    const row: QueuedMessage = {
      id: envelope.id,
      sender: envelope.sender,
      receivedAt: envelope.receivedAt,
      size: entry.message.length,
      attempts: entry.attempts,
      ...extra,
      // `held` belongs to the admin: the store keeps its value for an existing entry.
      held: false,
      warned: entry.warned,
      recipients: entry.recipients.map((r) => rowFromRecipient(r, statusOf(r), entry.tries.get(r.address))),
    };
    const saved = await this.#opts.store.save(row, { onlyIfPresent: entry.tracked });
    if (saved) entry.tracked = true;
    return saved;
  }

  /** Run the scheduler pass in `delayMs` (or sooner if already planned sooner). */
  #schedule(delayMs: number): void {
    if (this.#closed) return;
    const wait = Math.max(0, Math.min(delayMs, SCAN_INTERVAL_MS));
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.#scan(), wait);
    this.#timer.unref();
  }

  async #scan(): Promise<void> {
    const { store, spool, log } = this.#opts;
    try {
      const now = this.#now();
      for (const id of await store.due(now, DUE_BATCH)) {
        if (this.#active.has(id)) continue;
        const known = await store.get(id);
        if (!known || known.held || known.doneAt !== undefined) continue;
        const spooled = await spool.readParked(id);
        if (!spooled) {
          log.error({ queueId: id, code: ErrorCode.QUEUE_SPOOL_MISSING }, 'queued message has no spool file; dropping its queue entry');
          await store.delete({ id });
          continue;
        }
        this.#start(this.#entryFor(spooled.envelope, spooled.message, known, true));
      }
      if (now - this.#lastPurge > 60_000) {
        this.#lastPurge = now;
        await store.purgeDone(now - DONE_RETENTION_MS);
      }
    } catch (err) {
      log.error({ err }, 'queue scan failed (will retry)');
    } finally {
      this.#schedule(SCAN_INTERVAL_MS);
    }
  }
}

function recipientFromRow(row: QueuedRecipient): DeliveryRecipient {
  const recipient: DeliveryRecipient = { original: row.original, address: row.address, ...(row.folder ? { folder: row.folder } : {}) };
  if (row.status === 'delivered' || row.status === 'failed' || row.status === 'deferred') {
    const result: DeliveryResult = { status: row.status };
    if (row.code !== undefined) result.code = row.code;
    if (row.enhanced !== undefined) result.enhanced = row.enhanced;
    if (row.reply !== undefined) result.message = row.reply;
    if (row.destination !== undefined) result.destination = row.destination;
    recipient.result = result;
  }
  return recipient;
}

function rowFromRecipient(r: DeliveryRecipient, override: RecipientStatus | undefined, tries: { attempts: number; lastAttemptAt?: number } | undefined): QueuedRecipient {
  const result = r.result;
  const row: QueuedRecipient = { address: r.address, original: r.original, domain: domainOf(r.address), status: override ?? result?.status ?? 'scheduled', attempts: tries?.attempts ?? 0 };
  if (tries?.lastAttemptAt !== undefined) row.lastAttemptAt = tries.lastAttemptAt;
  if (r.folder) row.folder = r.folder;
  if (result?.code !== undefined) row.code = result.code;
  if (result?.enhanced !== undefined) row.enhanced = result.enhanced;
  if (result?.message !== undefined) row.reply = result.message;
  if (result?.destination !== undefined) row.destination = result.destination;
  return row;
}
