/**
 * The directory: domains, users, aliases, catch-alls and quotas. SQLite is the embedded backend
 * (sqlite-directory.ts); the interface is async so that a PostgreSQL backend can implement it later.
 * Addresses and domains are stored lower-cased; methods accept any case.
 */

export interface Domain {
  name: string;
  /** Address that receives mail for unknown local parts of this domain, or null. */
  catchAll: string | null;
  createdAt: number;
}

/** Fields a signature/disclaimer plugin can use later. All optional. */
export interface UserProfile {
  displayName: string | null;
  title: string | null;
  phone: string | null;
  url: string | null;
  postalAddress: string | null;
  notes: string | null;
}

export interface User extends UserProfile {
  /** Full address, lower-cased: local@domain. */
  address: string;
  domain: string;
  /** Mailbox quota in bytes; null = unlimited. */
  quotaBytes: number | null;
  createdAt: number;
}

export interface Alias {
  /** The alias address (lower-cased). */
  source: string;
  /** Target addresses, local or remote. */
  targets: string[];
}

export type NewUser = Partial<UserProfile> & { quotaBytes?: number | null };

/** How an envelope recipient resolves. */
export type Resolution =
  /** The domain is not local: relay rules apply. */
  | { kind: 'remote' }
  /** Local domain, but no user, alias or catch-all matches. */
  | { kind: 'unknown' }
  /**
   * Local: after alias expansion (recursive, loop-safe) and catch-all, the local mailboxes (user
   * addresses) and remote addresses this recipient delivers to.
   */
  | { kind: 'local'; mailboxes: string[]; remote: string[] };

export interface Directory {
  addDomain(name: string, options?: { catchAll?: string | null }): Promise<Domain>;
  getDomain(name: string): Promise<Domain | undefined>;
  listDomains(): Promise<Domain[]>;
  /** Refuses (DOMAIN_NOT_EMPTY) while users or aliases exist, unless `force`. */
  removeDomain(name: string, options?: { force?: boolean }): Promise<void>;
  setCatchAll(domain: string, target: string | null): Promise<void>;
  isLocalDomain(domain: string): Promise<boolean>;

  /** Hashes the password (scrypt); never stores it in clear. */
  addUser(address: string, password: string, fields?: NewUser): Promise<User>;
  getUser(address: string): Promise<User | undefined>;
  listUsers(domain?: string): Promise<User[]>;
  setPassword(address: string, password: string): Promise<void>;
  updateUser(address: string, fields: NewUser): Promise<User>;
  removeUser(address: string): Promise<void>;
  /** The user when the password matches, else undefined. Takes the same time for unknown users. */
  verifyPassword(address: string, password: string): Promise<User | undefined>;

  /** Adds targets to the alias (creating it). */
  addAlias(source: string, targets: string[]): Promise<Alias>;
  /** Removes one target, or the whole alias when `target` is omitted. */
  removeAlias(source: string, target?: string): Promise<void>;
  listAliases(domain?: string): Promise<Alias[]>;

  /** Aliases, users and catch-all, in that order of precedence. */
  resolve(address: string): Promise<Resolution>;

  /** Bytes stored in the mailbox (all folders), as tracked by deliveries. */
  getUsage(address: string): Promise<number>;
  /** Add (or subtract, negative) to the tracked usage. */
  addUsage(address: string, bytes: number): Promise<void>;

  close(): Promise<void>;
}
