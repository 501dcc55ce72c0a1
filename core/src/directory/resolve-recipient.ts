/**
 * How an envelope recipient resolves, independent of the storage backend: the backend supplies
 * four lookups, this file owns the precedence rules, recursion, loop safety and deduplication.
 */
import { ErrorCode, PosternError } from '../errors.js';
import { normalizeDomain, splitAddress, stripPlusTag } from './address.js';
import type { Resolution } from './directory.js';

/** How many alias hops are followed before a branch is given up. */
export const MAX_ALIAS_DEPTH = 10;

/** What resolution needs from a backend. Addresses and domains are passed lower-cased. */
export interface RecipientLookups {
  isLocalDomain(domain: string): boolean | Promise<boolean>;
  /** The alias's targets in the order added; empty when `address` is not an alias. */
  aliasTargets(address: string): string[] | Promise<string[]>;
  isUser(address: string): boolean | Promise<boolean>;
  /** The domain's catch-all address, or null. */
  catchAll(domain: string): string | null | Promise<string | null>;
}

interface Walk {
  lookups: RecipientLookups;
  visited: Set<string>;
  mailboxes: Set<string>;
  remote: Set<string>;
}

/**
 * Remote domains are not checked further (their local parts may use any syntax). For a local
 * domain: exact alias, then user, then the same two without the `+tag`, then the domain's
 * catch-all. Aliases and catch-alls expand recursively (depth-limited, loop-safe, deduplicated);
 * targets that lead nowhere are dropped, and when nothing is left the result is `unknown`, so
 * mail for a dead alias is refused at RCPT rather than accepted and lost.
 * @throws PosternError INVALID_ADDRESS when the address has no `@` or the domain is malformed
 */
export async function resolveRecipient(lookups: RecipientLookups, address: string): Promise<Resolution> {
  const parts = splitAddress(address);
  if (!parts) throw new PosternError(ErrorCode.INVALID_ADDRESS, `"${address}" is not an address (local@domain)`, { value: address });
  const domain = normalizeDomain(parts.domain);
  if (!(await lookups.isLocalDomain(domain))) return { kind: 'remote' };

  const walk: Walk = { lookups, visited: new Set(), mailboxes: new Set(), remote: new Set() };
  await expand(walk, `${parts.local}@${domain}`, 0);
  if (walk.mailboxes.size === 0 && walk.remote.size === 0) return { kind: 'unknown' };
  return { kind: 'local', mailboxes: [...walk.mailboxes], remote: [...walk.remote] };
}

async function expand(walk: Walk, address: string, depth: number): Promise<void> {
  if (depth > MAX_ALIAS_DEPTH || walk.visited.has(address)) return;
  walk.visited.add(address);
  const parts = splitAddress(address);
  if (!parts) return;
  if (!(await walk.lookups.isLocalDomain(parts.domain))) {
    walk.remote.add(address);
    return;
  }
  if (await expandExact(walk, address, depth)) return;
  const base = stripPlusTag(parts.local);
  if (base !== undefined && (await expandExact(walk, `${base}@${parts.domain}`, depth))) return;
  const catchAll = await walk.lookups.catchAll(parts.domain);
  if (catchAll) await expand(walk, catchAll, depth + 1);
}

/** Expand `address` as an alias or take it as a user; false when it is neither. */
async function expandExact(walk: Walk, address: string, depth: number): Promise<boolean> {
  const targets = await walk.lookups.aliasTargets(address);
  if (targets.length > 0) {
    walk.visited.add(address);
    for (const target of targets) await expand(walk, target, depth + 1);
    return true;
  }
  if (await walk.lookups.isUser(address)) {
    walk.mailboxes.add(address);
    return true;
  }
  return false;
}
