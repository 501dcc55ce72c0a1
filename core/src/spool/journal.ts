import { constants } from 'node:fs';
import { readdir, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { fsClose, fsDatasync, fsOpen, fsWritev } from '../util/fs-ops.js';

/**
 * The spool journal: messages are appended to a segment file and made durable with one fdatasync
 * for every message that arrived while the previous fdatasync ran (group commit). With twenty
 * clients sending at once, twenty messages share one disk flush instead of paying for twenty file
 * creations, twenty fsyncs, twenty renames and twenty directory fsyncs.
 *
 * Records:
 *   M <id> <envelope bytes> <message bytes>\n<envelope JSON><message>\n   a message (durable when append resolves)
 *   D <id>\n                                                              the message is settled
 * A segment is deleted by the Spool once it is closed, all its messages are settled, and a
 * file-system sync has made their deliveries durable (see spool.ts).
 */

export interface JournalRecord {
  id: string;
  envelope: Buffer;
  message: Buffer;
}

export interface Segment {
  seq: number;
  path: string;
  /** Messages in this segment not yet settled. */
  live: number;
  /** No more appends (rolled, or found on disk at start-up). */
  closed: boolean;
}

interface Pending {
  buffers: Buffer[];
  /** Set for a message record: the caller waits for the fdatasync. */
  id?: string;
  done?: (err?: unknown) => void;
}

/** Roll to a new segment past this size, or this age, so settled segments can be reclaimed. */
const SEGMENT_MAX_BYTES = 32 * 1024 * 1024;
const SEGMENT_MAX_AGE_MS = 2000;

const segmentName = (seq: number) => `${String(seq).padStart(10, '0')}.journal`;

export class Journal {
  readonly dir: string;
  readonly segments = new Map<number, Segment>();
  readonly #where = new Map<string, Segment>();
  #current: (Segment & { fd: number; size: number; openedAt: number }) | undefined;
  #queue: Pending[] = [];
  #flushing = false;
  #nextSeq = 1;

  constructor(dir: string) {
    this.dir = dir;
  }

  /** Read every segment on disk (oldest first) and return the messages not settled. */
  async recover(onCorrupt: (file: string, offset: number, reason: string) => void): Promise<JournalRecord[]> {
    const names = (await readdir(this.dir)).filter((n) => /^\d{10}\.journal$/.test(n)).sort();
    const live = new Map<string, JournalRecord & { segment: Segment }>();
    for (const name of names) {
      const seq = Number(name.slice(0, 10));
      const segment: Segment = { seq, path: join(this.dir, name), live: 0, closed: true };
      this.segments.set(seq, segment);
      this.#nextSeq = Math.max(this.#nextSeq, seq + 1);
      parseSegment(await readFile(segment.path), (record) => {
        if (record.kind === 'M') live.set(record.id, { ...record, segment });
        else live.delete(record.id);
      }, (offset, reason) => onCorrupt(segment.path, offset, reason));
    }
    for (const record of live.values()) {
      record.segment.live++;
      this.#where.set(record.id, record.segment);
    }
    return [...live.values()].map(({ id, envelope, message }) => ({ id, envelope, message }));
  }

  /** Append a message; resolves once it is on disk. */
  append(id: string, envelope: Buffer, message: Buffer): Promise<void> {
    const head = Buffer.from(`M ${id} ${envelope.length} ${message.length}\n`);
    return new Promise((resolve, reject) => {
      this.#queue.push({ buffers: [head, envelope, message, NEWLINE], id, done: (err) => (err ? reject(err) : resolve()) });
      this.#kick();
    });
  }

  /** Mark a message settled. Not flushed on its own: losing it only means an idempotent redelivery. */
  settle(id: string): void {
    const segment = this.#where.get(id);
    if (!segment) return;
    this.#where.delete(id);
    segment.live--;
    this.#queue.push({ buffers: [Buffer.from(`D ${id}\n`)] });
    this.#kick();
  }

  has(id: string): boolean {
    return this.#where.has(id);
  }

  /** Roll the current segment if it is old enough, so it can be reclaimed once settled. */
  async rollIfOld(now = Date.now()): Promise<void> {
    if (this.#current && !this.#flushing && this.#queue.length === 0 && now - this.#current.openedAt >= SEGMENT_MAX_AGE_MS) {
      await this.#roll();
    }
  }

  /** Closed segments whose messages are all settled. */
  reclaimable(): Segment[] {
    return [...this.segments.values()].filter((s) => s.closed && s.live <= 0);
  }

  async remove(segment: Segment): Promise<void> {
    await unlink(segment.path).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
    this.segments.delete(segment.seq);
  }

  /** Flush what is queued and close the current segment. */
  async close(): Promise<void> {
    while (this.#flushing || this.#queue.length > 0) await new Promise((r) => setTimeout(r, 5));
    if (this.#current) await this.#roll(false);
  }

  #kick(): void {
    if (!this.#flushing) {
      this.#flushing = true;
      setImmediate(() => void this.#flushLoop());
    }
  }

  async #flushLoop(): Promise<void> {
    while (this.#queue.length > 0) {
      const batch = this.#queue;
      this.#queue = [];
      let error: unknown;
      try {
        const segment = await this.#writable();
        const buffers = batch.flatMap((p) => p.buffers);
        const bytes = buffers.reduce((n, b) => n + b.length, 0);
        await writevAll(segment.fd, buffers);
        segment.size += bytes;
        if (batch.some((p) => p.id !== undefined)) await fsDatasync(segment.fd);
        for (const p of batch) {
          if (p.id === undefined) continue;
          this.#where.set(p.id, segment);
          segment.live++;
        }
        if (segment.size >= SEGMENT_MAX_BYTES) await this.#roll();
      } catch (err) {
        error = err;
      }
      for (const p of batch) p.done?.(error);
    }
    this.#flushing = false;
  }

  async #writable() {
    if (!this.#current) {
      const seq = this.#nextSeq++;
      const path = join(this.dir, segmentName(seq));
      const fd = await fsOpen(path, constants.O_WRONLY | constants.O_CREAT | constants.O_APPEND | constants.O_EXCL, 0o600);
      this.#current = { seq, path, live: 0, closed: false, fd, size: 0, openedAt: Date.now() };
      this.segments.set(seq, this.#current);
    }
    return this.#current;
  }

  async #roll(sync = true): Promise<void> {
    const current = this.#current;
    if (!current) return;
    this.#current = undefined;
    if (sync) await fsDatasync(current.fd).catch(() => undefined);
    await fsClose(current.fd);
    const segment = this.segments.get(current.seq);
    if (segment) segment.closed = true;
  }
}

const NEWLINE = Buffer.from('\n');

async function writevAll(fd: number, buffers: Buffer[]): Promise<void> {
  let rest = buffers;
  while (rest.length > 0) {
    // writev(2) takes at most IOV_MAX (1024) buffers and may write less than asked.
    const chunk = rest.slice(0, 1024);
    let written = await fsWritev(fd, chunk);
    rest = rest.slice(chunk.length);
    const pending: Buffer[] = [];
    for (const buffer of chunk) {
      if (written >= buffer.length) written -= buffer.length;
      else {
        pending.push(buffer.subarray(written));
        written = 0;
      }
    }
    rest = [...pending, ...rest];
  }
}

type ParsedRecord = { kind: 'M'; id: string; envelope: Buffer; message: Buffer } | { kind: 'D'; id: string };

/**
 * Parse a segment. A torn record at the end (a crash during a write that was never acknowledged)
 * stops the parse; that message never got its 250.
 */
export function parseSegment(data: Buffer, onRecord: (record: ParsedRecord) => void, onCorrupt: (offset: number, reason: string) => void): void {
  let pos = 0;
  while (pos < data.length) {
    const eol = data.indexOf(0x0a, pos);
    if (eol < 0) return onCorrupt(pos, 'torn record header at end of segment');
    const head = data.toString('latin1', pos, eol);
    const m = /^M (\S+) (\d+) (\d+)$/.exec(head);
    if (m) {
      const envLen = Number(m[2]);
      const msgLen = Number(m[3]);
      const start = eol + 1;
      const end = start + envLen + msgLen;
      if (end + 1 > data.length || data[end] !== 0x0a) return onCorrupt(pos, 'torn message record at end of segment');
      onRecord({ kind: 'M', id: m[1]!, envelope: data.subarray(start, start + envLen), message: data.subarray(start + envLen, end) });
      pos = end + 1;
      continue;
    }
    const d = /^D (\S+)$/.exec(head);
    if (d) {
      onRecord({ kind: 'D', id: d[1]! });
      pos = eol + 1;
      continue;
    }
    return onCorrupt(pos, `unknown record ${JSON.stringify(head.slice(0, 40))}`);
  }
}
