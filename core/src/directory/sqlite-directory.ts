/**
 * The embedded Directory backend on SQLite (tables in store/migrations/001-directory.ts).
 * better-sqlite3 is synchronous; the methods are async only to honour the Directory interface,
 * which a networked backend (PostgreSQL) will need.
 */
import type Database from 'better-sqlite3';
import { ErrorCode, PosternError } from '../errors.js';
import { openDatabase } from '../store/database.js';
import { isSafeLocalPart, normalizeDomain, parseAnyAddress, parseMailboxAddress, splitAddress } from './address.js';
import type { Alias, Directory, Domain, NewUser, Resolution, User, UserProfile } from './directory.js';
import { checkPassword, dummyPasswordHash, hashPassword, verifyPasswordHash } from './password.js';
import { MAX_ALIAS_DEPTH, resolveRecipient, type RecipientLookups } from './resolve-recipient.js';

interface DomainRow {
  name: string;
  catch_all: string | null;
  created_at: number;
}

interface UserRow {
  address: string;
  domain: string;
  password_hash: string;
  quota_bytes: number | null;
  display_name: string | null;
  title: string | null;
  phone: string | null;
  url: string | null;
  postal_address: string | null;
  notes: string | null;
  created_at: number;
}

interface AliasRow {
  source: string;
  target: string;
}

/** Profile keys of NewUser mapped to their column. */
const PROFILE_COLUMNS = {
  displayName: 'display_name',
  title: 'title',
  phone: 'phone',
  url: 'url',
  postalAddress: 'postal_address',
  notes: 'notes',
} as const satisfies Record<keyof UserProfile, keyof UserRow>;

const USER_COLUMNS = 'address, domain, password_hash, quota_bytes, display_name, title, phone, url, postal_address, notes, created_at';

function toDomain(row: DomainRow): Domain {
  return { name: row.name, catchAll: row.catch_all, createdAt: row.created_at };
}

function toUser(row: UserRow): User {
  return {
    address: row.address,
    domain: row.domain,
    quotaBytes: row.quota_bytes,
    displayName: row.display_name,
    title: row.title,
    phone: row.phone,
    url: row.url,
    postalAddress: row.postal_address,
    notes: row.notes,
    createdAt: row.created_at,
  };
}

function checkQuota(quota: number | null | undefined): number | null {
  if (quota === undefined || quota === null) return null;
  if (!Number.isSafeInteger(quota) || quota < 0) {
    throw new PosternError(ErrorCode.INVALID_QUOTA, `quota must be a whole number of bytes >= 0 or null, got ${String(quota)}`);
  }
  return quota;
}

/** Empty or blank profile text is stored as NULL so "not set" has one representation. */
function profileValue(value: string | null | undefined): string | null {
  if (value === undefined || value === null) return null;
  const trimmed = value.trim();
  return trimmed === '' ? null : trimmed;
}

function isConstraint(err: unknown, kind: 'PRIMARYKEY' | 'FOREIGNKEY'): boolean {
  return (err as { code?: unknown }).code === `SQLITE_CONSTRAINT_${kind}`;
}

/** Every statement the directory runs, prepared once: SQLite compiles each a single time. */
function prepareStatements(db: Database.Database) {
  return {
    insertDomain: db.prepare<[string, string | null, number]>('INSERT INTO domains (name, catch_all, created_at) VALUES (?, ?, ?)'),
    getDomain: db.prepare<[string], DomainRow>('SELECT name, catch_all, created_at FROM domains WHERE name = ?'),
    listDomains: db.prepare<[], DomainRow>('SELECT name, catch_all, created_at FROM domains ORDER BY name'),
    deleteDomain: db.prepare<[string]>('DELETE FROM domains WHERE name = ?'),
    setCatchAll: db.prepare<[string | null, string]>('UPDATE domains SET catch_all = ? WHERE name = ?'),
    countDomainUsers: db.prepare<[string], { n: number }>('SELECT count(*) AS n FROM users WHERE domain = ?'),
    countDomainAliases: db.prepare<[string], { n: number }>('SELECT count(DISTINCT source) AS n FROM aliases WHERE domain = ?'),

    insertUser: db.prepare<[string, string, string, number | null, ...(string | null)[], number]>(
      `INSERT INTO users (${USER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    getUser: db.prepare<[string], UserRow>(`SELECT ${USER_COLUMNS} FROM users WHERE address = ?`),
    userExists: db.prepare<[string], { one: number }>('SELECT 1 AS one FROM users WHERE address = ?'),
    listUsers: db.prepare<[], UserRow>(`SELECT ${USER_COLUMNS} FROM users ORDER BY domain, address`),
    listDomainUsers: db.prepare<[string], UserRow>(`SELECT ${USER_COLUMNS} FROM users WHERE domain = ? ORDER BY address`),
    setPassword: db.prepare<[string, string]>('UPDATE users SET password_hash = ? WHERE address = ?'),
    deleteUser: db.prepare<[string]>('DELETE FROM users WHERE address = ?'),

    insertAlias: db.prepare<[string, string, string]>('INSERT OR IGNORE INTO aliases (source, domain, target) VALUES (?, ?, ?)'),
    aliasTargets: db.prepare<[string], { target: string }>('SELECT target FROM aliases WHERE source = ? ORDER BY rowid'),
    listAliases: db.prepare<[], AliasRow>('SELECT source, target FROM aliases ORDER BY domain, source, rowid'),
    listDomainAliases: db.prepare<[string], AliasRow>('SELECT source, target FROM aliases WHERE domain = ? ORDER BY source, rowid'),
    deleteAlias: db.prepare<[string]>('DELETE FROM aliases WHERE source = ?'),
    deleteAliasTarget: db.prepare<[string, string]>('DELETE FROM aliases WHERE source = ? AND target = ?'),

    getUsage: db.prepare<[string], { bytes: number }>('SELECT bytes FROM mailbox_usage WHERE address = ?'),
    // Never below zero: a delete counted twice must not leave a negative usage that hides real use.
    addUsage: db.prepare<{ address: string; bytes: number }>(
      `INSERT INTO mailbox_usage (address, bytes) VALUES (@address, max(@bytes, 0))
       ON CONFLICT (address) DO UPDATE SET bytes = max(bytes + @bytes, 0)`,
    ),
  };
}

type Statements = ReturnType<typeof prepareStatements>;

export interface SqliteDirectoryOptions {
  /** Close the database in `close()`. True when the directory opened it itself (`open`). */
  ownsDatabase?: boolean;
}

/**
 * @example
 * const directory = SqliteDirectory.open(config.dataDir);
 * await directory.addDomain('example.com');
 * await directory.addUser('ann@example.com', 'correct horse battery');
 * await directory.resolve('ann+lists@example.com'); // { kind: 'local', mailboxes: ['ann@example.com'], remote: [] }
 * await directory.close();
 */
export class SqliteDirectory implements Directory {
  readonly #db: Database.Database;
  readonly #ownsDatabase: boolean;
  readonly #sql: Statements;
  readonly #lookups: RecipientLookups;

  /** Open `<dataDir>/postern.db` (migrating it) and return a directory that closes it on `close()`. */
  static open(dataDir: string): SqliteDirectory {
    return new SqliteDirectory(openDatabase(dataDir), { ownsDatabase: true });
  }

  /** Use an already open, migrated database (see openDatabase); it stays open on `close()` by default. */
  constructor(db: Database.Database, options: SqliteDirectoryOptions = {}) {
    this.#db = db;
    this.#ownsDatabase = options.ownsDatabase ?? false;
    this.#sql = prepareStatements(db);
    this.#lookups = {
      isLocalDomain: (domain) => this.#isLocal(domain),
      aliasTargets: (address) => this.#targetsOf(address),
      isUser: (address) => this.#sql.userExists.get(address) !== undefined,
      catchAll: (domain) => this.#sql.getDomain.get(domain)?.catch_all ?? null,
    };
  }

  // ---- domains -------------------------------------------------------------------------------

  async addDomain(name: string, options: { catchAll?: string | null } = {}): Promise<Domain> {
    const domain = normalizeDomain(name);
    const catchAll = options.catchAll ? parseAnyAddress(options.catchAll).address : null;
    try {
      this.#sql.insertDomain.run(domain, catchAll, Date.now());
    } catch (err) {
      if (isConstraint(err, 'PRIMARYKEY')) throw new PosternError(ErrorCode.DOMAIN_EXISTS, `domain ${domain} already exists`, { domain });
      throw err;
    }
    return toDomain(this.#sql.getDomain.get(domain)!);
  }

  async getDomain(name: string): Promise<Domain | undefined> {
    const row = this.#sql.getDomain.get(normalizeDomain(name));
    return row && toDomain(row);
  }

  async listDomains(): Promise<Domain[]> {
    return this.#sql.listDomains.all().map(toDomain);
  }

  async removeDomain(name: string, options: { force?: boolean } = {}): Promise<void> {
    const domain = this.#requireDomain(name);
    this.#db
      .transaction(() => {
        if (!options.force) {
          const users = this.#sql.countDomainUsers.get(domain)!.n;
          const aliases = this.#sql.countDomainAliases.get(domain)!.n;
          if (users + aliases > 0) {
            throw new PosternError(
              ErrorCode.DOMAIN_NOT_EMPTY,
              `domain ${domain} still has ${users} user(s) and ${aliases} alias(es); remove them first or force`,
              { domain, users, aliases },
            );
          }
        }
        // Users, their usage and the domain's aliases go with it (ON DELETE CASCADE).
        this.#sql.deleteDomain.run(domain);
      })
      .immediate();
  }

  async setCatchAll(domain: string, target: string | null): Promise<void> {
    const name = this.#requireDomain(domain);
    const address = target === null || target === '' ? null : parseAnyAddress(target).address;
    this.#sql.setCatchAll.run(address, name);
  }

  async isLocalDomain(domain: string): Promise<boolean> {
    return this.#isLocal(domain.trim().toLowerCase().replace(/\.$/, ''));
  }

  // ---- users ---------------------------------------------------------------------------------

  async addUser(address: string, password: string, fields: NewUser = {}): Promise<User> {
    const parsed = parseMailboxAddress(address);
    this.#requireDomain(parsed.domain);
    checkPassword(password);
    const quota = checkQuota(fields.quotaBytes);
    this.#refuseUserConflicts(parsed.address);
    const hash = await hashPassword(password);
    try {
      // Checked again here: another process may have added the alias while scrypt ran.
      this.#db.transaction(() => {
        this.#refuseUserConflicts(parsed.address);
        this.#sql.insertUser.run(
          parsed.address,
          parsed.domain,
          hash,
          quota,
          profileValue(fields.displayName),
          profileValue(fields.title),
          profileValue(fields.phone),
          profileValue(fields.url),
          profileValue(fields.postalAddress),
          profileValue(fields.notes),
          Date.now(),
        );
      }).immediate();
    } catch (err) {
      if (isConstraint(err, 'FOREIGNKEY')) throw this.#domainNotFound(parsed.domain);
      throw err;
    }
    return toUser(this.#sql.getUser.get(parsed.address)!);
  }

  async getUser(address: string): Promise<User | undefined> {
    const key = this.#lookupKey(address);
    const row = key === undefined ? undefined : this.#sql.getUser.get(key);
    return row && toUser(row);
  }

  async listUsers(domain?: string): Promise<User[]> {
    const rows = domain === undefined ? this.#sql.listUsers.all() : this.#sql.listDomainUsers.all(normalizeDomain(domain));
    return rows.map(toUser);
  }

  async setPassword(address: string, password: string): Promise<void> {
    const key = this.#requireUser(address);
    checkPassword(password);
    const hash = await hashPassword(password);
    if (this.#sql.setPassword.run(hash, key).changes === 0) throw this.#userNotFound(key);
  }

  async updateUser(address: string, fields: NewUser): Promise<User> {
    const key = this.#requireUser(address);
    const sets: string[] = [];
    const values: Record<string, string | number | null> = { address: key };
    if (fields.quotaBytes !== undefined) {
      sets.push('quota_bytes = @quota_bytes');
      values.quota_bytes = checkQuota(fields.quotaBytes);
    }
    for (const [field, column] of Object.entries(PROFILE_COLUMNS) as [keyof UserProfile, string][]) {
      if (fields[field] === undefined) continue; // absent: keep; null: clear
      sets.push(`${column} = @${column}`);
      values[column] = profileValue(fields[field]);
    }
    if (sets.length > 0) {
      // The column list depends on which fields are given, so this one statement is built per call.
      const changes = this.#db.prepare(`UPDATE users SET ${sets.join(', ')} WHERE address = @address`).run(values).changes;
      if (changes === 0) throw this.#userNotFound(key);
    }
    return toUser(this.#sql.getUser.get(key)!);
  }

  async removeUser(address: string): Promise<void> {
    const key = this.#requireUser(address);
    // Aliases that point at the user are kept: resolve skips targets that no longer exist.
    if (this.#sql.deleteUser.run(key).changes === 0) throw this.#userNotFound(key);
  }

  async verifyPassword(address: string, password: string): Promise<User | undefined> {
    const key = this.#lookupKey(address);
    const row = key === undefined ? undefined : this.#sql.getUser.get(key);
    // Always one scrypt, for unknown users too, so timing does not reveal which accounts exist.
    const ok = await verifyPasswordHash(password, row?.password_hash ?? (await dummyPasswordHash()));
    return row && ok ? toUser(row) : undefined;
  }

  // ---- aliases -------------------------------------------------------------------------------

  async addAlias(source: string, targets: string[]): Promise<Alias> {
    const src = parseMailboxAddress(source);
    this.#requireDomain(src.domain);
    if (targets.length === 0) throw new PosternError(ErrorCode.INVALID_ADDRESS, `alias ${src.address} needs at least one target`, { source });
    const parsed = targets.map((t) => this.#parseTarget(t));
    this.#db
      .transaction(() => {
        if (this.#sql.userExists.get(src.address)) {
          throw new PosternError(ErrorCode.ALIAS_CONFLICT, `${src.address} is a user; an alias cannot have the same address`, { source: src.address });
        }
        for (const target of parsed) {
          const path = this.#aliasPath(target, src.address);
          if (path) {
            throw new PosternError(ErrorCode.ALIAS_CONFLICT, `alias ${src.address} -> ${path.join(' -> ')} would loop`, {
              source: src.address,
              target,
            });
          }
        }
        for (const target of parsed) this.#sql.insertAlias.run(src.address, src.domain, target);
      })
      .immediate();
    return { source: src.address, targets: this.#targetsOf(src.address) };
  }

  async removeAlias(source: string, target?: string): Promise<void> {
    const key = this.#lookupKey(source) ?? source;
    if (target === undefined) {
      if (this.#sql.deleteAlias.run(key).changes === 0) throw this.#aliasNotFound(key);
      return;
    }
    const t = splitAddress(target);
    const targetKey = t ? `${t.local}@${t.domain}` : target;
    if (this.#sql.deleteAliasTarget.run(key, targetKey).changes === 0) throw this.#aliasNotFound(key, targetKey);
  }

  async listAliases(domain?: string): Promise<Alias[]> {
    const rows = domain === undefined ? this.#sql.listAliases.all() : this.#sql.listDomainAliases.all(normalizeDomain(domain));
    const bySource = new Map<string, string[]>();
    for (const row of rows) {
      const list = bySource.get(row.source);
      if (list) list.push(row.target);
      else bySource.set(row.source, [row.target]);
    }
    return [...bySource].map(([source, targets]) => ({ source, targets }));
  }

  // ---- resolution ----------------------------------------------------------------------------

  /** See resolveRecipient for the rules. */
  async resolve(address: string): Promise<Resolution> {
    return resolveRecipient(this.#lookups, address);
  }

  // ---- quota ---------------------------------------------------------------------------------

  async getUsage(address: string): Promise<number> {
    const key = this.#lookupKey(address);
    return (key !== undefined && this.#sql.getUsage.get(key)?.bytes) || 0;
  }

  /** @throws PosternError USER_NOT_FOUND when the address is not a user (usage is tracked per user). */
  async addUsage(address: string, bytes: number): Promise<void> {
    if (!Number.isSafeInteger(bytes)) throw new PosternError(ErrorCode.INVALID_QUOTA, `usage delta must be a whole number of bytes, got ${bytes}`);
    const key = this.#requireUser(address);
    try {
      this.#sql.addUsage.run({ address: key, bytes });
    } catch (err) {
      if (isConstraint(err, 'FOREIGNKEY')) throw this.#userNotFound(key);
      throw err;
    }
  }

  /** SQLite's data_version: changes whenever another connection (another process) commits. */
  changeToken(): number {
    return this.#db.pragma('data_version', { simple: true }) as number;
  }

  async close(): Promise<void> {
    if (this.#ownsDatabase && this.#db.open) this.#db.close();
  }

  // ---- helpers -------------------------------------------------------------------------------

  #isLocal(domain: string): boolean {
    return this.#sql.getDomain.get(domain) !== undefined;
  }

  #targetsOf(source: string): string[] {
    return this.#sql.aliasTargets.all(source).map((r) => r.target);
  }

  /** The stored form of an address for lookups (lower-cased), or undefined when it is not an address. */
  #lookupKey(address: string): string | undefined {
    const parts = splitAddress(address);
    return parts && `${parts.local}@${parts.domain}`;
  }

  #requireDomain(name: string): string {
    const domain = normalizeDomain(name);
    if (!this.#isLocal(domain)) throw this.#domainNotFound(domain);
    return domain;
  }

  #requireUser(address: string): string {
    const key = this.#lookupKey(address);
    if (key === undefined || !this.#sql.userExists.get(key)) throw this.#userNotFound(key ?? address);
    return key;
  }

  #refuseUserConflicts(address: string): void {
    if (this.#sql.userExists.get(address)) throw new PosternError(ErrorCode.USER_EXISTS, `user ${address} already exists`, { address });
    if (this.#targetsOf(address).length > 0) {
      throw new PosternError(ErrorCode.ALIAS_CONFLICT, `${address} is an alias; remove it before adding a user with that address`, { address });
    }
  }

  /** Targets in a local domain become mailbox paths, so they get the strict syntax. */
  #parseTarget(target: string): string {
    const parsed = parseAnyAddress(target);
    if (this.#isLocal(parsed.domain) && !isSafeLocalPart(parsed.local)) return parseMailboxAddress(target).address;
    return parsed.address;
  }

  /** The alias chain from `from` back to `to`, when following aliases from `from` reaches `to`. */
  #aliasPath(from: string, to: string): string[] | undefined {
    const seen = new Set<string>();
    const walk = (at: string, path: string[]): string[] | undefined => {
      if (at === to) return path;
      if (seen.has(at) || path.length > MAX_ALIAS_DEPTH) return undefined;
      seen.add(at);
      for (const next of this.#targetsOf(at)) {
        const found = walk(next, [...path, next]);
        if (found) return found;
      }
      return undefined;
    };
    return walk(from, [from]);
  }

  #domainNotFound(domain: string): PosternError {
    return new PosternError(ErrorCode.DOMAIN_NOT_FOUND, `domain ${domain} does not exist`, { domain });
  }

  #userNotFound(address: string): PosternError {
    return new PosternError(ErrorCode.USER_NOT_FOUND, `user ${address} does not exist`, { address });
  }

  #aliasNotFound(source: string, target?: string): PosternError {
    const what = target === undefined ? `alias ${source}` : `alias ${source} -> ${target}`;
    return new PosternError(ErrorCode.ALIAS_NOT_FOUND, `${what} does not exist`, { source, target });
  }
}
