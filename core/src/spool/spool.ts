import { mkdir, open, readdir, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { ErrorCode, PosternError } from '../errors.js';
import type { DirSync } from '../util/dir-sync.js';
import { isQueueId } from '../util/queue-id.js';
import { syncFilesystem } from '../util/sync-filesystem.js';
import { Journal } from './journal.js';

/** What the spool keeps beside a message: enough to deliver it after a restart. */
export interface SpoolEnvelope {
  id: string;
  sender: string;
  recipients: string[];
  /** Unix ms of the 250. */
  receivedAt: number;
  client: { ip: string; helo?: string; user?: string; listener: string };
  /** Quarantine folder chosen at DATA, if any. */
  folder?: string;
  /** Results recorded during the transaction (JSON-safe copy). */
  results?: Record<string, unknown>;
}

export interface SpooledMessage {
  envelope: SpoolEnvelope;
  message: Buffer;
}

/** How often settled journal segments are reclaimed (after one file-system sync for all of them). */
const CHECKPOINT_INTERVAL_MS = 1000;

/**
 * The durable spool. A message is accepted (250) only after `store` resolves, which is after its
 * journal record is fdatasync'd (journal.ts: group commit). Local delivery then writes the
 * Maildir copy without an fsync of its own: the journal keeps the message until a checkpoint has
 * run syncfs on the file system, and only then deletes the segment. After a crash or power loss,
 * every message whose segment still exists is delivered again, and the delivery is idempotent
 * (maildir.ts checks for the same name and size), so nothing is lost and nothing is doubled.
 *
 * A message that cannot be delivered now (deferred) is "parked": written to spool/deferred/<id>
 * with its own fsync, so the journal can move on without holding old segments for days.
 */
export class Spool {
  readonly dir: string;
  readonly #journal: Journal;
  readonly #deferredDir: string;
  readonly #corruptDir: string;
  readonly #dirSync: DirSync;
  readonly #log: Logger;
  readonly #parked = new Set<string>();
  #timer: NodeJS.Timeout | undefined;
  #checkpointing: Promise<void> | undefined;

  constructor(dir: string, dirSync: DirSync, log: Logger) {
    this.dir = dir;
    this.#journal = new Journal(join(dir, 'journal'));
    this.#deferredDir = join(dir, 'deferred');
    this.#corruptDir = join(dir, 'corrupt');
    this.#dirSync = dirSync;
    this.#log = log;
  }

  async init(): Promise<void> {
    for (const d of [this.#journal.dir, this.#deferredDir, this.#corruptDir]) await mkdir(d, { recursive: true, mode: 0o700 });
  }

  /** Make a message durable. Throws PosternError SPOOL_WRITE_FAILED (the client then gets a 451). */
  async store(envelope: SpoolEnvelope, message: Buffer): Promise<void> {
    try {
      await this.#journal.append(envelope.id, Buffer.from(JSON.stringify(envelope)), message);
    } catch (err) {
      throw new PosternError(ErrorCode.SPOOL_WRITE_FAILED, `cannot spool ${envelope.id}: ${(err as Error).message}`, { queueId: envelope.id }, { cause: err });
    }
  }

  /** Every recipient of the message is settled: forget it. */
  async settle(id: string): Promise<void> {
    if (this.#parked.delete(id)) {
      await unlink(join(this.#deferredDir, id)).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw err;
      });
      return;
    }
    this.#journal.settle(id);
  }

  /** Move a deferred message out of the journal into its own durable file (once). */
  async park(envelope: SpoolEnvelope, message: Buffer): Promise<void> {
    if (this.#parked.has(envelope.id)) return;
    const json = Buffer.from(JSON.stringify(envelope));
    const final = join(this.#deferredDir, envelope.id);
    const tmp = `${final}.tmp`;
    const handle = await open(tmp, 'w', 0o600);
    try {
      await handle.writev([Buffer.from(`POSTERN-SPOOL/1 ${json.length}\n`), json, Buffer.from('\n'), message]);
      await handle.datasync();
    } finally {
      await handle.close();
    }
    await rename(tmp, final);
    await this.#dirSync.sync(this.#deferredDir);
    this.#parked.add(envelope.id);
    this.#journal.settle(envelope.id);
  }

  /** A parked message, read back for its next attempt; undefined when the file is gone (deleted by an admin). */
  async readParked(id: string): Promise<SpooledMessage | undefined> {
    let data: Buffer;
    try {
      data = await readFile(parkedPath(this.dir, id));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        this.#parked.delete(id);
        return undefined;
      }
      throw err;
    }
    this.#parked.add(id);
    return parseSpoolFile(data, id);
  }

  /**
   * Everything the spool holds after a restart, oldest first: unsettled journal records and
   * parked messages. Torn records at a segment's end were never acknowledged and are skipped;
   * unreadable parked files move to spool/corrupt with a SPOOL_CORRUPT log line.
   */
  async recover(): Promise<SpooledMessage[]> {
    const found = new Map<string, SpooledMessage>();
    const records = await this.#journal.recover((file, offset, reason) =>
      this.#log.warn({ code: ErrorCode.SPOOL_CORRUPT, file, offset, reason }, 'journal segment ends in a torn record (never acknowledged)'),
    );
    for (const record of records) {
      try {
        const envelope = JSON.parse(record.envelope.toString('utf8')) as SpoolEnvelope;
        if (envelope.id !== record.id) throw new Error('envelope id mismatch');
        found.set(record.id, { envelope, message: record.message });
      } catch (err) {
        this.#log.error({ code: ErrorCode.SPOOL_CORRUPT, queueId: record.id, err }, 'unreadable journal record');
      }
    }
    for (const name of (await readdir(this.#deferredDir)).sort()) {
      const path = join(this.#deferredDir, name);
      if (name.endsWith('.tmp')) {
        await unlink(path).catch(() => undefined);
        continue;
      }
      try {
        if (!isQueueId(name)) throw new Error('not a queue id');
        // A crash between parking and the journal's settle record leaves both copies: keep the
        // parked one and settle the journal record, so the message is delivered once.
        found.set(name, parseSpoolFile(await readFile(path), name));
        this.#parked.add(name);
        this.#journal.settle(name);
      } catch (err) {
        this.#log.error({ code: ErrorCode.SPOOL_CORRUPT, file: path, err }, 'corrupt spool file moved aside');
        await rename(path, join(this.#corruptDir, name)).catch(() => undefined);
      }
    }
    return [...found.values()].sort((a, b) => a.envelope.receivedAt - b.envelope.receivedAt);
  }

  /** Start the periodic checkpoint (roll old segments, sync, delete settled ones). */
  start(): void {
    this.#timer = setInterval(() => void this.checkpoint(), CHECKPOINT_INTERVAL_MS);
    this.#timer.unref();
  }

  /** Reclaim settled segments: one syncfs makes every delivery they cover durable, then delete them. */
  checkpoint(): Promise<void> {
    this.#checkpointing ??= (async () => {
      try {
        await this.#journal.rollIfOld();
        const segments = this.#journal.reclaimable();
        if (segments.length === 0) return;
        await syncFilesystem(this.dir);
        for (const segment of segments) await this.#journal.remove(segment);
      } catch (err) {
        this.#log.error({ err }, 'spool checkpoint failed (will retry)');
      } finally {
        this.#checkpointing = undefined;
      }
    })();
    return this.#checkpointing;
  }

  /** Stop checkpoints and close the journal; what is unsettled stays for the next start. */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.#checkpointing;
    await this.#journal.close();
    await this.checkpoint();
  }
}

/** Where a parked message lives: `<spool>/deferred/<id>` (the CLI removes it on `queue delete`). */
export function parkedPath(spoolDir: string, id: string): string {
  return join(spoolDir, 'deferred', id);
}

/** A parked (deferred) message file: `POSTERN-SPOOL/1 <n>\n` + n bytes of JSON envelope + `\n` + message. */
export function parseSpoolFile(data: Buffer, id: string): SpooledMessage {
  const newline = data.indexOf(0x0a);
  const match = /^POSTERN-SPOOL\/1 (\d+)$/.exec(data.subarray(0, Math.max(newline, 0)).toString('latin1'));
  if (newline < 0 || !match) throw new PosternError(ErrorCode.SPOOL_CORRUPT, `bad spool header in ${id}`);
  const length = Number(match[1]);
  const start = newline + 1;
  if (data.length < start + length + 1 || data[start + length] !== 0x0a) throw new PosternError(ErrorCode.SPOOL_CORRUPT, `truncated spool file ${id}`);
  const envelope = JSON.parse(data.subarray(start, start + length).toString('utf8')) as SpoolEnvelope;
  if (envelope.id !== id || !Array.isArray(envelope.recipients)) throw new PosternError(ErrorCode.SPOOL_CORRUPT, `envelope mismatch in ${id}`);
  return { envelope, message: data.subarray(start + length + 1) };
}
