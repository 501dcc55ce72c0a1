/**
 * Parsing and normalising of domain names and addresses for the directory. Two strictness levels:
 * local mailboxes (users, alias sources) become folder names on disk, so their local parts are
 * limited to a safe charset; alias targets may be remote, so they accept any RFC 5321 dot-atom.
 */
import { ErrorCode, PosternError } from '../errors.js';

/** Letters, digits and `_ + -`, in dot-separated runs: no leading, trailing or double dot. */
const SAFE_LOCAL_PART = /^[a-z0-9_+-]+(?:\.[a-z0-9_+-]+)*$/;
/** RFC 5321 dot-atom (atext runs separated by single dots). Quoted local parts are not supported. */
const DOT_ATOM = /^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/;
/** One LDH label: letters, digits, hyphens, not starting or ending with a hyphen. */
const LDH_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

const MAX_LOCAL_PART = 64;
const MAX_DOMAIN = 253;

export interface ParsedAddress {
  /** Lower-cased local part. */
  local: string;
  /** Lower-cased domain. */
  domain: string;
  /** `local@domain`, lower-cased. */
  address: string;
}

function invalid(message: string, value: string): PosternError {
  return new PosternError(ErrorCode.INVALID_ADDRESS, message, { value });
}

/** Why `name` is not a usable domain name, or undefined when it is. Expects lower case. */
function domainProblem(name: string): string | undefined {
  if (name === '') return 'is empty';
  // eslint-disable-next-line no-control-regex
  if (/[^\x00-\x7f]/.test(name)) return 'contains non-ASCII characters (write IDNs in punycode, xn--...)';
  if (name.length > MAX_DOMAIN) return `is longer than ${MAX_DOMAIN} characters`;
  const labels = name.split('.');
  for (const label of labels) {
    if (!LDH_LABEL.test(label)) return `has an invalid label "${label}" (letters, digits and inner hyphens only)`;
  }
  // An all-numeric name is an IP address in disguise, not a domain.
  if (labels.every((l) => /^[0-9]+$/.test(l))) return 'is an IP address, not a domain name';
  return undefined;
}

/**
 * Lower-case and validate a domain name; a trailing root dot is dropped.
 * @throws PosternError INVALID_ADDRESS
 */
export function normalizeDomain(input: string): string {
  const name = input.trim().toLowerCase().replace(/\.$/, '');
  const problem = domainProblem(name);
  if (problem) throw invalid(`domain "${input}" ${problem}`, input);
  return name;
}

/** True when `input` normalises to a valid domain name. */
export function isValidDomain(input: string): boolean {
  return domainProblem(input.trim().toLowerCase().replace(/\.$/, '')) === undefined;
}

/** Split at the last `@` (lower-casing both halves) without validating; undefined when there is no `@`. */
export function splitAddress(input: string): { local: string; domain: string } | undefined {
  const s = input.trim().toLowerCase();
  const at = s.lastIndexOf('@');
  if (at <= 0 || at === s.length - 1) return undefined;
  return { local: s.slice(0, at), domain: s.slice(at + 1).replace(/\.$/, '') };
}

/** True when `local` (lower-cased) is safe to use as a mailbox folder name. */
export function isSafeLocalPart(local: string): boolean {
  return local.length <= MAX_LOCAL_PART && SAFE_LOCAL_PART.test(local);
}

function parse(input: string, localPattern: RegExp, what: string): ParsedAddress {
  const parts = splitAddress(input);
  if (!parts) throw invalid(`"${input}" is not an address (local@domain)`, input);
  if (parts.local.length > MAX_LOCAL_PART || !localPattern.test(parts.local)) {
    throw invalid(`"${input}" has an invalid local part for ${what}`, input);
  }
  const domain = normalizeDomain(parts.domain);
  return { local: parts.local, domain, address: `${parts.local}@${domain}` };
}

/**
 * Parse an address that names a local mailbox (a user or an alias source): lower-cased, local
 * part limited to letters, digits and `. _ + -` (no leading/trailing dot, no `..`).
 * @throws PosternError INVALID_ADDRESS
 * @example
 * parseMailboxAddress('Ann.Lee@Example.COM'); // { local: 'ann.lee', domain: 'example.com', address: 'ann.lee@example.com' }
 */
export function parseMailboxAddress(input: string): ParsedAddress {
  return parse(input, SAFE_LOCAL_PART, 'a mailbox (letters, digits and . _ + - only)');
}

/**
 * Parse an address that may be remote (an alias target, a catch-all): any dot-atom local part.
 * @throws PosternError INVALID_ADDRESS
 */
export function parseAnyAddress(input: string): ParsedAddress {
  return parse(input, DOT_ATOM, 'an address');
}

/**
 * The local part without its `+tag` (plus-addressing), or undefined when there is no tag.
 * @example
 * stripPlusTag('ann+lists'); // 'ann'
 */
export function stripPlusTag(local: string): string | undefined {
  const plus = local.indexOf('+');
  return plus > 0 ? local.slice(0, plus) : undefined;
}
