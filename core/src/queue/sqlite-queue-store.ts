import type { Db } from '../store/database.js';
import type { QueuedMessage, QueuedRecipient, QueueSelector, QueueStore, RecipientStatus } from './queue-store.js';

interface MessageRow {
  id: string;
  sender: string;
  received_at: number;
  size: number;
  attempts: number;
  next_attempt_at: number | null;
  held: number;
  warned: number;
  done_at: number | null;
}

interface RecipientRow {
  message_id: string;
  address: string;
  original: string;
  domain: string;
  folder: string | null;
  status: RecipientStatus;
  attempts: number;
  last_attempt_at: number | null;
  code: number | null;
  enhanced: string | null;
  reply: string | null;
  destination: string | null;
}

/**
 * The queue's metadata in the embedded SQLite database (migration 003). better-sqlite3 is
 * synchronous; the methods are async only to keep the QueueStore contract backend-neutral.
 * Several processes use it at once: the server and `postern queue ...` (WAL, busy timeout).
 */
export class SqliteQueueStore implements QueueStore {
  readonly #db: Db;
  readonly #stmts;

  constructor(db: Db) {
    this.#db = db;
    this.#stmts = {
      message: db.prepare<[string], MessageRow>('SELECT * FROM queue_messages WHERE id = ?'),
      recipients: db.prepare<[string], RecipientRow>('SELECT * FROM queue_recipients WHERE message_id = ? ORDER BY position'),
      listOpen: db.prepare<[], MessageRow>('SELECT * FROM queue_messages WHERE done_at IS NULL ORDER BY received_at, id'),
      listAll: db.prepare<[], MessageRow>('SELECT * FROM queue_messages ORDER BY received_at, id'),
      exists: db.prepare<[string], { one: number }>('SELECT 1 AS one FROM queue_messages WHERE id = ?'),
      upsertMessage: db.prepare(
        `INSERT INTO queue_messages (id, sender, received_at, size, attempts, next_attempt_at, held, warned, done_at)
         VALUES (@id, @sender, @received_at, @size, @attempts, @next_attempt_at, @held, @warned, @done_at)
         ON CONFLICT (id) DO UPDATE SET attempts = excluded.attempts, next_attempt_at = excluded.next_attempt_at,
           warned = excluded.warned, done_at = excluded.done_at`,
      ),
      clearRecipients: db.prepare<[string]>('DELETE FROM queue_recipients WHERE message_id = ?'),
      insertRecipient: db.prepare(
        `INSERT INTO queue_recipients (message_id, position, address, original, domain, folder, status, attempts, last_attempt_at, code, enhanced, reply, destination)
         VALUES (@message_id, @position, @address, @original, @domain, @folder, @status, @attempts, @last_attempt_at, @code, @enhanced, @reply, @destination)`,
      ),
      due: db.prepare<[number, number], { id: string }>(
        'SELECT id FROM queue_messages WHERE done_at IS NULL AND held = 0 AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?',
      ),
      nextDue: db.prepare<[], { at: number | null }>('SELECT MIN(next_attempt_at) AS at FROM queue_messages WHERE done_at IS NULL AND held = 0'),
      openIds: db.prepare<[], { id: string }>('SELECT id FROM queue_messages WHERE done_at IS NULL ORDER BY received_at, id'),
      openId: db.prepare<[string], { id: string }>('SELECT id FROM queue_messages WHERE done_at IS NULL AND id = ?'),
      setHeld: db.prepare<[number, string]>('UPDATE queue_messages SET held = ? WHERE id = ?'),
      retryNow: db.prepare<[number, string]>('UPDATE queue_messages SET next_attempt_at = ? WHERE id = ? AND next_attempt_at IS NOT NULL'),
      delete: db.prepare<[string]>('DELETE FROM queue_messages WHERE id = ?'),
      purgeDone: db.prepare<[number]>('DELETE FROM queue_messages WHERE done_at IS NOT NULL AND done_at < ?'),
    };
  }

  async get(id: string): Promise<QueuedMessage | undefined> {
    const row = this.#stmts.message.get(id);
    return row && this.#read(row);
  }

  async list(options: { includeDone?: boolean } = {}): Promise<QueuedMessage[]> {
    const rows = (options.includeDone ? this.#stmts.listAll : this.#stmts.listOpen).all();
    return rows.map((row) => this.#read(row));
  }

  async save(message: QueuedMessage, options: { onlyIfPresent?: boolean } = {}): Promise<boolean> {
    return this.#db.transaction(() => {
      if (options.onlyIfPresent && !this.#stmts.exists.get(message.id)) return false;
      this.#stmts.upsertMessage.run({
        id: message.id,
        sender: message.sender,
        received_at: message.receivedAt,
        size: message.size,
        attempts: message.attempts,
        next_attempt_at: message.nextAttemptAt ?? null,
        held: message.held ? 1 : 0,
        warned: message.warned ? 1 : 0,
        done_at: message.doneAt ?? null,
      });
      this.#stmts.clearRecipients.run(message.id);
      message.recipients.forEach((r, position) => {
        this.#stmts.insertRecipient.run({
          message_id: message.id,
          position,
          address: r.address,
          original: r.original,
          domain: r.domain,
          folder: r.folder ?? null,
          status: r.status,
          attempts: r.attempts,
          last_attempt_at: r.lastAttemptAt ?? null,
          code: r.code ?? null,
          enhanced: r.enhanced ?? null,
          reply: r.reply ?? null,
          destination: r.destination ?? null,
        });
      });
      return true;
    }).immediate();
  }

  async due(now: number, limit: number): Promise<string[]> {
    return this.#stmts.due.all(now, limit).map((r) => r.id);
  }

  async nextDueAt(): Promise<number | undefined> {
    return this.#stmts.nextDue.get()?.at ?? undefined;
  }

  async setHeld(selector: QueueSelector, held: boolean): Promise<string[]> {
    return this.#eachOpen(selector, (id) => this.#stmts.setHeld.run(held ? 1 : 0, id).changes > 0);
  }

  async retryNow(selector: QueueSelector, now: number): Promise<string[]> {
    return this.#eachOpen(selector, (id) => this.#stmts.retryNow.run(now, id).changes > 0);
  }

  async delete(selector: QueueSelector): Promise<string[]> {
    return this.#eachOpen(selector, (id) => this.#stmts.delete.run(id).changes > 0);
  }

  async purgeDone(before: number): Promise<number> {
    return this.#stmts.purgeDone.run(before).changes;
  }

  /** Apply `change` to one open message or to all of them, in one transaction. */
  #eachOpen(selector: QueueSelector, change: (id: string) => boolean): string[] {
    return this.#db.transaction(() => {
      const ids = 'all' in selector ? this.#stmts.openIds.all().map((r) => r.id) : this.#stmts.openId.all(selector.id).map((r) => r.id);
      return ids.filter(change);
    }).immediate();
  }

  #read(row: MessageRow): QueuedMessage {
    return {
      id: row.id,
      sender: row.sender,
      receivedAt: row.received_at,
      size: row.size,
      attempts: row.attempts,
      ...(row.next_attempt_at !== null ? { nextAttemptAt: row.next_attempt_at } : {}),
      held: row.held === 1,
      warned: row.warned === 1,
      ...(row.done_at !== null ? { doneAt: row.done_at } : {}),
      recipients: this.#stmts.recipients.all(row.id).map(readRecipient),
    };
  }
}

function readRecipient(row: RecipientRow): QueuedRecipient {
  const r: QueuedRecipient = { address: row.address, original: row.original, domain: row.domain, status: row.status, attempts: row.attempts };
  if (row.folder !== null) r.folder = row.folder;
  if (row.last_attempt_at !== null) r.lastAttemptAt = row.last_attempt_at;
  if (row.code !== null) r.code = row.code;
  if (row.enhanced !== null) r.enhanced = row.enhanced;
  if (row.reply !== null) r.reply = row.reply;
  if (row.destination !== null) r.destination = row.destination;
  return r;
}
