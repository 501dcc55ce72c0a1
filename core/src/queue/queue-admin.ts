/**
 * Queue management, shared by `postern queue ...` and (later) the admin API: list, show, retry,
 * hold, release, delete. These work on the store and the spool files, so they run next to a live
 * server: it sees a retry or a release at its next scan (within a second).
 */
import { unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { ErrorCode, PosternError } from '../errors.js';
import { parkedPath } from '../spool/spool.js';
import type { QueuedMessage, QueueSelector, QueueStore } from './queue-store.js';

/** A message as `queue list` shows it: the last error is the worst current one. */
export interface QueueListing {
  id: string;
  sender: string;
  recipients: string[];
  size: number;
  /** Seconds since it was accepted. */
  ageSec: number;
  attempts: number;
  status: 'held' | 'in-flight' | 'deferred' | 'scheduled';
  nextAttemptAt?: number;
  lastCode?: number;
  lastEnhanced?: string;
  lastError?: string;
}

export function summarise(message: QueuedMessage, now = Date.now()): QueueListing {
  const open = message.recipients.filter((r) => r.status !== 'delivered' && r.status !== 'failed');
  const withError = open.find((r) => r.code !== undefined) ?? message.recipients.find((r) => r.code !== undefined && r.status !== 'delivered');
  const status = message.held ? 'held' : open.some((r) => r.status === 'in-flight') ? 'in-flight' : open.some((r) => r.status === 'deferred') ? 'deferred' : 'scheduled';
  const listing: QueueListing = {
    id: message.id,
    sender: message.sender,
    recipients: open.map((r) => r.address),
    size: message.size,
    ageSec: Math.max(0, Math.round((now - message.receivedAt) / 1000)),
    attempts: message.attempts,
    status,
  };
  if (message.nextAttemptAt !== undefined) listing.nextAttemptAt = message.nextAttemptAt;
  if (withError?.code !== undefined) listing.lastCode = withError.code;
  if (withError?.enhanced !== undefined) listing.lastEnhanced = withError.enhanced;
  if (withError?.reply !== undefined) listing.lastError = withError.reply;
  return listing;
}

export async function listQueue(store: QueueStore, now = Date.now()): Promise<QueueListing[]> {
  return (await store.list()).map((m) => summarise(m, now));
}

/** One waiting message with every recipient; QUEUE_NOT_FOUND when there is none with that id. */
export async function showMessage(store: QueueStore, id: string): Promise<QueuedMessage> {
  const message = await store.get(id);
  if (!message || message.doneAt !== undefined) throw notFound(id);
  return message;
}

/** Try now (`queue retry ID|--all`, `queue flush`). Returns the ids. */
export async function retryMessages(store: QueueStore, selector: QueueSelector, now = Date.now()): Promise<string[]> {
  const ids = await store.retryNow(selector, now);
  if ('id' in selector && ids.length === 0) await assertWaiting(store, selector.id);
  return ids;
}

/** Hold (no attempts until released) or release. Returns the ids changed. */
export async function holdMessages(store: QueueStore, selector: QueueSelector, held: boolean): Promise<string[]> {
  const ids = await store.setHeld(selector, held);
  if ('id' in selector && ids.length === 0) await assertWaiting(store, selector.id);
  return ids;
}

/**
 * Delete messages from the queue, without a bounce. The spool file goes first, then the queue
 * entry, so a crash in between leaves an entry without a file, which the server drops (rather
 * than a file without an entry, which it would deliver). A message whose attempt is running at
 * that moment may still be delivered by it.
 */
export async function deleteMessages(store: QueueStore, spoolDir: string, selector: QueueSelector): Promise<string[]> {
  const targets = 'id' in selector ? [await showMessage(store, selector.id)] : await store.list();
  for (const m of targets) {
    await unlink(parkedPath(spoolDir, m.id)).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
  }
  const deleted: string[] = [];
  for (const m of targets) deleted.push(...(await store.delete({ id: m.id })));
  return deleted;
}

/** The spool folder of a data folder. */
export function spoolDirOf(dataDir: string): string {
  return join(dataDir, 'spool');
}

async function assertWaiting(store: QueueStore, id: string): Promise<void> {
  await showMessage(store, id);
}

function notFound(id: string): PosternError {
  return new PosternError(ErrorCode.QUEUE_NOT_FOUND, `no message ${id} in the queue (see \`postern queue list\`)`, { id });
}
