import { DeliverStage, type Delivery, type DeliveryRecipient, type DeliveryResult } from '@postern/sdk';
import type { Logger } from 'pino';
import type { Directory } from '../directory/directory.js';
import { ErrorCode } from '../errors.js';
import type { Pipeline } from '../pipeline/pipeline.js';
import type { MailboxStore } from './mailbox-store.js';
import { maildirName } from './maildir.js';

export interface LocalDeliveryDeps {
  directory: Directory;
  mailboxes: MailboxStore;
  hostname: string;
  log: Logger;
  /** Called after a message file landed in a mailbox folder (the IMAP store wakes IDLE sessions). */
  onDelivered?(mailbox: string, folder: string): void;
}

/**
 * The core's local delivery, registered as the `deliver` tap at DeliverStage.LOCAL so plugins at
 * DeliverStage.ROUTE can reroute before it. For each pending recipient in a local domain: expand
 * aliases (remote targets are handed on with `delivery.add`), enforce the quota, and write one
 * copy per mailbox (a mailbox reached twice, directly and through an alias, gets one copy).
 */
export function registerLocalDelivery(pipeline: Pipeline, deps: LocalDeliveryDeps): void {
  pipeline.tap('deliver', (delivery) => deliverLocal(delivery, deps), { plugin: 'core', timeoutMs: 120_000, failOpen: false }, { stage: DeliverStage.LOCAL });
}

async function deliverLocal(delivery: Delivery, deps: LocalDeliveryDeps): Promise<void> {
  const written = new Map<string, Promise<DeliveryResult>>();
  await Promise.all(
    delivery.pending().map(async (recipient) => {
      const resolution = await deps.directory.resolve(recipient.address);
      if (resolution.kind === 'remote') return; // for the outbound transport
      if (resolution.kind === 'unknown') {
        delivery.settle(recipient, { status: 'failed', code: 550, enhanced: '5.1.1', message: 'User unknown' });
        return;
      }
      for (const target of resolution.remote) delivery.add(target, recipient.original);
      if (resolution.mailboxes.length === 0) {
        delivery.settle(recipient, { status: 'delivered', code: 250, enhanced: '2.1.5', message: 'Forwarded', destination: resolution.remote.join(', ') });
        return;
      }
      const outcomes = await Promise.all(
        resolution.mailboxes.map((mailbox) => {
          const key = `${mailbox}\u0000${recipient.folder ?? 'INBOX'}`;
          let outcome = written.get(key);
          if (!outcome) {
            outcome = writeCopy(delivery, recipient, mailbox, deps);
            written.set(key, outcome);
          }
          return outcome;
        }),
      );
      // One recipient may fan out to several mailboxes: it is settled by the worst outcome.
      const worst = outcomes.find((o) => o.status === 'deferred') ?? outcomes.find((o) => o.status === 'failed') ?? outcomes[0];
      if (worst) delivery.settle(recipient, { ...worst, destination: outcomes.map((o) => o.destination).join(', ') });
    }),
  );
}

async function writeCopy(delivery: Delivery, recipient: DeliveryRecipient, mailbox: string, deps: LocalDeliveryDeps): Promise<DeliveryResult> {
  const size = delivery.message.length;
  try {
    const user = await deps.directory.getUser(mailbox);
    if (!user) return { status: 'failed', code: 550, enhanced: '5.1.1', message: 'User unknown', destination: mailbox };
    if (user.quotaBytes != null && (await deps.directory.getUsage(mailbox)) + size > user.quotaBytes) {
      // Deferred, not failed: the message stays in the queue until the owner makes room or the
      // queue's lifetime runs out (then it bounces). Never dropped.
      return { status: 'deferred', code: 452, enhanced: '4.2.2', message: 'Mailbox full', destination: mailbox };
    }
    const maildir = await deps.mailboxes.open(mailbox);
    const folder = recipient.folder ?? 'INBOX';
    if (folder !== 'INBOX' && !(await maildir.hasFolder(folder))) await maildir.ensure([folder]);
    const name = maildirName(delivery.receivedAt, delivery.id, deps.hostname, size);
    // attempt > 1: an earlier attempt (or the process before a crash) may already have written it.
    const path = await maildir.deliver(folder, name, delivery.message, delivery.attempt > 1);
    if (path) {
      await deps.directory.addUsage(mailbox, size);
      deps.onDelivered?.(mailbox, folder);
    }
    return { status: 'delivered', code: 250, enhanced: '2.0.0', message: path ? 'Delivered' : 'Already delivered', destination: `${mailbox}/${folder}` };
  } catch (err) {
    deps.log.error({ err, code: ErrorCode.DELIVERY_FAILED, queueId: delivery.id, mailbox }, 'local delivery failed');
    return { status: 'deferred', code: 451, enhanced: '4.3.0', message: 'Local delivery failed, will retry', destination: mailbox };
  }
}
