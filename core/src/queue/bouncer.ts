import type { DeliveryRecipient } from '@postern/sdk';
import type { Logger } from 'pino';
import { ErrorCode } from '../errors.js';
import { buildDsn, mayBounce, type DsnRecipient } from '../outbound/dsn.js';
import type { Spool, SpoolEnvelope } from '../spool/spool.js';
import { newQueueId } from '../util/queue-id.js';

export interface BouncerOptions {
  hostname: string;
  spool: Spool;
  log: Logger;
  /** Hand a spooled DSN to the queue (its first attempt). */
  submit(envelope: SpoolEnvelope, message: Buffer): void;
}

/**
 * Sends DSNs (dsn.ts) to a message's envelope sender: a failure report for recipients that
 * failed, a delay warning for ones still deferred. The DSN is a new message with the null sender,
 * spooled like any other (durable before this resolves) and delivered by the same queue, locally
 * or remotely. Never to the null sender, never for a DSN: mayBounce() decides, and a suppressed
 * bounce is logged with POSTERN_BOUNCE_SUPPRESSED.
 */
export class Bouncer {
  readonly #opts: BouncerOptions;

  constructor(options: BouncerOptions) {
    this.#opts = options;
  }

  async bounce(original: SpoolEnvelope, message: Buffer, recipients: DeliveryRecipient[], kind: 'failure' | 'delay', willRetryUntil?: number): Promise<void> {
    const { log, spool, hostname } = this.#opts;
    const allowed = mayBounce(original.sender, message);
    if (!allowed.send) {
      log.info({ queueId: original.id, code: ErrorCode.BOUNCE_SUPPRESSED, reason: allowed.reason, kind }, 'no DSN sent');
      return;
    }
    const now = Date.now();
    const dsn = buildDsn({
      kind,
      reportingMta: hostname,
      queueId: original.id,
      sender: original.sender,
      receivedAt: original.receivedAt,
      original: message,
      now,
      recipients: recipients.map((r) => dsnRecipient(r, kind, now, willRetryUntil)),
    });
    const envelope: SpoolEnvelope = { id: newQueueId(now), sender: '', recipients: [original.sender], receivedAt: now, client: { ip: '127.0.0.1', listener: 'dsn' } };
    await spool.store(envelope, dsn);
    log.info({ queueId: envelope.id, original: original.id, to: original.sender, kind, recipients: recipients.map((r) => r.address) }, kind === 'failure' ? 'bounce queued' : 'delay warning queued');
    this.#opts.submit(envelope, dsn);
  }
}

function dsnRecipient(r: DeliveryRecipient, kind: 'failure' | 'delay', now: number, willRetryUntil: number | undefined): DsnRecipient {
  const result = r.result;
  const out: DsnRecipient = { address: r.address, action: kind === 'failure' ? 'failed' : 'delayed', lastAttemptAt: now };
  if (r.original !== r.address) out.original = r.original;
  if (result?.code !== undefined) out.code = result.code;
  if (result?.enhanced !== undefined) out.enhanced = result.enhanced;
  if (result?.message !== undefined) out.message = result.message;
  // Remote destinations read "mx.example.com [192.0.2.1]:25"; local ones are mailbox paths.
  const remote = result?.destination && /^(\S+) \[([^\]]+)\]/.exec(result.destination);
  if (remote) out.remoteMta = `${remote[1]} [${remote[2]}]`;
  if (kind === 'delay' && willRetryUntil !== undefined) out.willRetryUntil = willRetryUntil;
  return out;
}
