/**
 * A small versioned migration runner. The schema version lives in `PRAGMA user_version`; each
 * migration moves it from `version - 1` to `version`. Migrations only ever get appended (see
 * migrations/index.ts), so a database tells exactly which ones it has seen.
 */
import type Database from 'better-sqlite3';
import { ErrorCode, PosternError } from '../errors.js';

export interface Migration {
  /** 1, 2, 3, ... without gaps, in the order they were written. */
  version: number;
  /** Short description for logs and errors, e.g. "directory tables". */
  name: string;
  /** Apply the change. Runs inside a transaction together with the version bump. */
  up(db: Database.Database): void;
}

/** The schema version the database is at. */
export function schemaVersion(db: Database.Database): number {
  return db.pragma('user_version', { simple: true }) as number;
}

/**
 * Apply every migration newer than the database's version, each in its own IMMEDIATE transaction
 * (the write lock is taken up front, so two processes opening a fresh database at once do not
 * both run a migration: the second one waits, re-reads the version and skips it).
 */
export function migrate(db: Database.Database, migrations: readonly Migration[]): void {
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) throw new Error(`migration list out of order: "${m.name}" has version ${m.version}, expected ${i + 1}`);
  });
  const latest = migrations.length;
  const current = schemaVersion(db);
  if (current > latest) {
    throw new PosternError(
      ErrorCode.DATABASE_TOO_NEW,
      `database schema version ${current} is newer than this Postern knows (${latest}); upgrade Postern`,
      { version: current, known: latest },
    );
  }
  for (const m of migrations.slice(current)) {
    db.transaction(() => {
      if (schemaVersion(db) >= m.version) return; // another process got here first
      m.up(db);
      db.pragma(`user_version = ${m.version}`);
    }).immediate();
  }
}
