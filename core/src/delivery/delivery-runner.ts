import type { DeliveryRecipient } from '@postern/sdk';
import type { Logger } from 'pino';
import type { Pipeline } from '../pipeline/pipeline.js';
import type { PluginHost } from '../plugin-host/plugin-host.js';
import type { Spool, SpoolEnvelope } from '../spool/spool.js';
import { MessageDelivery } from './message-delivery.js';

interface Entry {
  envelope: SpoolEnvelope;
  message: Buffer;
  recipients: DeliveryRecipient[];
  attempts: number;
  timer?: NodeJS.Timeout;
}

export interface DeliveryRunnerOptions {
  plugins: PluginHost;
  spool: Spool;
  log: Logger;
  retryIntervalSec: number;
}

/**
 * Runs the `deliver` hook for spooled messages: right after the 250, after a restart for whatever
 * the spool still holds, and on a timer for deferred recipients. A message leaves the spool only
 * when every recipient is delivered or failed.
 *
 * Deferred state is kept in memory for now; after a restart every recipient of a spooled message
 * is tried again, and local delivery's idempotent names keep that from duplicating mail. (The
 * outbound queue brings per-recipient state in SQLite.)
 */
export class DeliveryRunner {
  readonly #opts: DeliveryRunnerOptions;
  readonly #entries = new Map<string, Entry>();
  readonly #running = new Set<Promise<void>>();
  #closed = false;

  constructor(options: DeliveryRunnerOptions) {
    this.#opts = options;
  }

  /** Deliver a message that was just spooled (attempt 1) or recovered from the spool (attempt 2: may be partly done). */
  submit(envelope: SpoolEnvelope, message: Buffer, recovered = false): void {
    const entry: Entry = {
      envelope,
      message,
      recipients: envelope.recipients.map((address) => (envelope.folder ? { original: address, address, folder: envelope.folder } : { original: address, address })),
      attempts: recovered ? 1 : 0,
    };
    this.#entries.set(envelope.id, entry);
    if (!recovered) {
      void this.#opts.plugins.current().pipeline.emit('queued', { id: envelope.id, sender: envelope.sender, recipients: entry.recipients.map((r) => ({ address: r.address })), size: message.length, attempt: 0 });
    }
    this.#track(this.#attempt(entry));
  }

  /** Stop retry timers and wait for attempts in flight (nothing is lost: the spool keeps the rest). */
  async close(): Promise<void> {
    this.#closed = true;
    for (const entry of this.#entries.values()) clearTimeout(entry.timer);
    await Promise.all([...this.#running]);
  }

  #track(promise: Promise<void>): void {
    this.#running.add(promise);
    void promise.finally(() => this.#running.delete(promise));
  }

  async #attempt(entry: Entry): Promise<void> {
    const { log, spool } = this.#opts;
    // Each attempt runs on the generation current when it starts, and holds it until it ends.
    const lease = this.#opts.plugins.acquire();
    try {
      await this.#attemptOn(entry, lease.generation.pipeline);
    } finally {
      lease.release();
    }
  }

  async #attemptOn(entry: Entry, pipeline: Pipeline): Promise<void> {
    const { log, spool } = this.#opts;
    entry.attempts++;
    for (const r of entry.recipients) if (r.result?.status === 'deferred') delete r.result;
    const delivery = new MessageDelivery(entry.envelope, entry.message, entry.recipients, entry.attempts);
    const id = entry.envelope.id;
    try {
      await pipeline.deliver(delivery);
    } catch (err) {
      log.error({ err, queueId: id }, 'deliver hook failed');
    }
    for (const r of delivery.pending()) {
      delivery.settle(r, { status: 'deferred', code: 451, enhanced: '4.4.0', message: 'No transport accepted this recipient yet' });
    }
    for (const r of delivery.recipients) {
      const result = r.result;
      log.info(
        { queueId: id, from: entry.envelope.sender, to: r.address, original: r.original !== r.address ? r.original : undefined, size: entry.message.length, attempt: entry.attempts, status: result?.status, code: result?.code, enhanced: result?.enhanced, reply: result?.message, destination: result?.destination },
        'delivery',
      );
    }
    for (const status of ['delivered', 'deferred', 'failed'] as const) {
      const event = delivery.eventFor(status);
      if (event) void pipeline.emit(status === 'failed' ? 'bounced' : status, event);
    }

    if (delivery.recipients.some((r) => r.result?.status === 'deferred')) {
      await spool.park(entry.envelope, entry.message).catch((err: unknown) => log.error({ err, queueId: id }, 'cannot park deferred message (it stays in the journal)'));
      if (!this.#closed) {
        entry.timer = setTimeout(() => {
          entry.timer = undefined;
          this.#track(this.#attempt(entry));
        }, this.#opts.retryIntervalSec * 1000);
        entry.timer.unref();
      }
      return;
    }
    // Every recipient is settled: the spool copy can go. A crash before the settle record is on
    // disk only causes an idempotent retry.
    this.#entries.delete(id);
    await spool.settle(id).catch((err: unknown) => log.error({ err, queueId: id }, 'cannot settle spooled message'));
  }
}
