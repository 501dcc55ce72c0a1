/**
 * The embedded SQLite database (`<dataDir>/postern.db`) shared by the directory and, later, the
 * queue and mailbox index. Several processes open it at once (the server and `postern user add`),
 * which WAL mode makes safe: readers never block the writer and a busy writer is waited for.
 */
import { chmodSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { ErrorCode, PosternError } from '../errors.js';
import { migrate, type Migration } from './migrate.js';
import { MIGRATIONS } from './migrations/index.js';

/** An open better-sqlite3 connection. */
export type Db = Database.Database;

/** File name of the database inside dataDir. */
export const DATABASE_FILE = 'postern.db';

/** How long a statement waits for another process's write lock before SQLITE_BUSY (ms). */
const BUSY_TIMEOUT_MS = 5000;

export interface OpenDatabaseOptions {
  /** Migrations to apply instead of the built-in list (tests). */
  migrations?: readonly Migration[];
}

/**
 * Open (creating if needed) `<dataDir>/postern.db`, set the pragmas and bring the schema up to date.
 * The caller owns the connection and closes it with `db.close()`.
 * @example
 * const db = openDatabase(config.dataDir);
 */
export function openDatabase(dataDir: string, options: OpenDatabaseOptions = {}): Db {
  const file = join(dataDir, DATABASE_FILE);
  let db: Db;
  try {
    // The data folder holds password hashes and mail: keep it private to the server's user.
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    const created = !existsSync(file);
    db = new Database(file);
    // SQLite gives the -wal/-shm files the database file's mode, so this covers them too.
    if (created) chmodSync(file, 0o600);
  } catch (err) {
    throw new PosternError(ErrorCode.DATABASE_UNAVAILABLE, `cannot open database ${file}: ${(err as Error).message}`, { file }, { cause: err });
  }
  try {
    // busy_timeout first, so that switching to WAL waits for a concurrent opener instead of failing.
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    db.pragma('journal_mode = WAL');
    // NORMAL is durable across application crashes in WAL mode; only a power loss can drop the
    // last commits, and the spool (not the database) is what must survive that.
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    migrate(db, options.migrations ?? MIGRATIONS);
  } catch (err) {
    db.close();
    if (err instanceof PosternError) throw err;
    throw new PosternError(ErrorCode.DATABASE_UNAVAILABLE, `cannot prepare database ${file}: ${(err as Error).message}`, { file }, { cause: err });
  }
  return db;
}
