import { mkdir, open, readdir, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { ErrorCode, PosternError } from '../errors.js';
import type { DirSync } from '../util/dir-sync.js';
import { isQueueId } from '../util/queue-id.js';

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

const MAGIC = 'POSTERN-SPOOL/1';

/**
 * The durable spool. A message is accepted (250) only after `store` resolves, and `store` resolves
 * only after the file and its directory entry are on disk:
 *
 *   write active/<id>.tmp → fdatasync → rename to active/<id> → fsync(active/) (group-committed)
 *
 * A crash before the rename leaves a .tmp that recovery deletes (the client never got a 250, so
 * the message was never ours); after it, recovery finds the complete file and delivers it. A file
 * is removed only when every recipient is settled.
 *
 * File format: `POSTERN-SPOOL/1 <n>\n` + n bytes of JSON envelope + `\n` + the message.
 */
export class Spool {
  readonly dir: string;
  readonly #active: string;
  readonly #corrupt: string;
  readonly #dirSync: DirSync;
  readonly #log: Logger;

  constructor(dir: string, dirSync: DirSync, log: Logger) {
    this.dir = dir;
    this.#active = join(dir, 'active');
    this.#corrupt = join(dir, 'corrupt');
    this.#dirSync = dirSync;
    this.#log = log;
  }

  async init(): Promise<void> {
    await mkdir(this.#active, { recursive: true });
    await mkdir(this.#corrupt, { recursive: true });
  }

  /** Write and fsync a message. Throws PosternError SPOOL_WRITE_FAILED; nothing half-written survives. */
  async store(envelope: SpoolEnvelope, message: Buffer): Promise<void> {
    const json = Buffer.from(JSON.stringify(envelope));
    const header = Buffer.from(`${MAGIC} ${json.length}\n`);
    const final = join(this.#active, envelope.id);
    const tmp = `${final}.tmp`;
    try {
      const handle = await open(tmp, 'wx');
      try {
        await handle.writev([header, json, Buffer.from('\n'), message]);
        await handle.datasync();
      } finally {
        await handle.close();
      }
      await rename(tmp, final);
      await this.#dirSync.sync(this.#active);
    } catch (err) {
      await unlink(tmp).catch(() => undefined);
      throw new PosternError(ErrorCode.SPOOL_WRITE_FAILED, `cannot spool ${envelope.id}: ${(err as Error).message}`, { queueId: envelope.id }, { cause: err });
    }
  }

  /** Forget a message whose recipients are all settled. A crash before this is harmless: delivery is idempotent. */
  async remove(id: string): Promise<void> {
    await unlink(join(this.#active, id)).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
  }

  async read(id: string): Promise<SpooledMessage> {
    return parseSpoolFile(await readFile(join(this.#active, id)), id);
  }

  /**
   * Everything in the spool after a restart, oldest first. Deletes leftover .tmp files (never
   * acknowledged) and moves unreadable files to spool/corrupt with a SPOOL_CORRUPT log line.
   */
  async recover(): Promise<SpooledMessage[]> {
    const names = (await readdir(this.#active)).sort();
    const found: SpooledMessage[] = [];
    for (const name of names) {
      const path = join(this.#active, name);
      if (name.endsWith('.tmp')) {
        await unlink(path).catch(() => undefined);
        continue;
      }
      try {
        if (!isQueueId(name)) throw new Error('not a queue id');
        found.push(parseSpoolFile(await readFile(path), name));
      } catch (err) {
        this.#log.error({ code: ErrorCode.SPOOL_CORRUPT, file: path, err }, 'corrupt spool file moved aside');
        await rename(path, join(this.#corrupt, name)).catch(() => undefined);
      }
    }
    return found;
  }
}

export function parseSpoolFile(data: Buffer, id: string): SpooledMessage {
  const newline = data.indexOf(0x0a);
  const head = data.subarray(0, newline).toString('latin1');
  const match = /^POSTERN-SPOOL\/1 (\d+)$/.exec(head);
  if (newline < 0 || !match) throw new PosternError(ErrorCode.SPOOL_CORRUPT, `bad spool header in ${id}`);
  const length = Number(match[1]);
  const start = newline + 1;
  if (data.length < start + length + 1 || data[start + length] !== 0x0a) {
    throw new PosternError(ErrorCode.SPOOL_CORRUPT, `truncated spool file ${id}`);
  }
  const envelope = JSON.parse(data.subarray(start, start + length).toString('utf8')) as SpoolEnvelope;
  if (envelope.id !== id || !Array.isArray(envelope.recipients)) throw new PosternError(ErrorCode.SPOOL_CORRUPT, `envelope mismatch in ${id}`);
  return { envelope, message: data.subarray(start + length + 1) };
}
