import { MailStoreError, type SpecialUse } from './mail-store.js';

/**
 * IMAP folder names and the Maildir++ directories they live in. A name is a list of components
 * joined by "/" (the hierarchy delimiter clients see); on disk, Maildir++ joins them with "." and
 * prefixes a dot: "Archive/2026" is `<maildir>/.Archive.2026`, INBOX is the Maildir root. Names
 * are stored in UTF-8 on disk, as the core's delivery writes them (Dovecot's `maildir++:UTF-8`).
 *
 * Refused (BAD_NAME), because each could leave the user's Maildir or make two names share a
 * directory:
 * - "." anywhere: it is Maildir++'s own separator ("A.B" and "A/B" would be the same directory),
 *   and it also rules out ".", "..", ".hidden" and every traversal;
 * - an empty name, a leading or trailing "/", an empty component ("a//b"); a leading "/" is what
 *   an absolute path looks like;
 * - control characters (C0, DEL), NUL included;
 * - "*" and "%": the LIST wildcards, a folder so named could never be listed by itself;
 * - a directory name longer than 255 bytes (NAME_MAX), i.e. a name of more than 254 UTF-8 bytes.
 */

/** NAME_MAX of the usual file systems, in bytes, for the ".A.B" directory name. */
const MAX_DIR_NAME_BYTES = 255;

// eslint-disable-next-line no-control-regex
const FORBIDDEN = /[\x00-\x1f\x7f.*%]/;

/** The SPECIAL-USE (RFC 6154) of a folder, decided by its name alone. */
const SPECIAL_USE: Readonly<Record<string, SpecialUse>> = {
  Sent: '\\Sent',
  Drafts: '\\Drafts',
  Junk: '\\Junk',
  Trash: '\\Trash',
  Archive: '\\Archive',
};

export const INBOX = 'INBOX';

/**
 * Check an IMAP folder name and return it in canonical form ("inbox" and "Inbox/x" become
 * "INBOX" and "INBOX/x"). Throws MailStoreError BAD_NAME.
 */
export function canonicalFolderName(name: string): string {
  const refuse = (why: string): never => {
    throw new MailStoreError('BAD_NAME', `invalid folder name ${JSON.stringify(name)}: ${why}`);
  };
  if (typeof name !== 'string' || name === '') refuse('empty');
  if (FORBIDDEN.test(name)) refuse('"." (the Maildir++ separator), "*", "%" and control characters are not allowed');
  const parts = name.split('/');
  if (parts.some((part) => part === '')) refuse('empty hierarchy level (leading, trailing or double "/")');
  if (parts[0]!.toUpperCase() === INBOX) parts[0] = INBOX;
  const canonical = parts.join('/');
  if (canonical !== INBOX && Buffer.byteLength(canonical) + 1 > MAX_DIR_NAME_BYTES) refuse(`longer than ${MAX_DIR_NAME_BYTES - 1} bytes`);
  return canonical;
}

export function isInbox(canonical: string): boolean {
  return canonical === INBOX;
}

/** The Maildir++ directory name of a canonical folder name: "" for INBOX (the root), ".A.B" for "A/B". */
export function folderDirName(canonical: string): string {
  return isInbox(canonical) ? '' : `.${canonical.split('/').join('.')}`;
}

/**
 * The folder name of an entry of the Maildir root (".A.B" → "A/B"), or undefined when the entry
 * is not a folder Postern could have made (no leading dot, "..", an empty level, a bad name), so
 * stray or half-deleted directories stay invisible.
 */
export function folderNameFromDir(entry: string): string | undefined {
  if (!entry.startsWith('.') || entry.length < 2) return undefined;
  const name = entry.slice(1).split('.').join('/');
  try {
    const canonical = canonicalFolderName(name);
    // "INBOX" is the root, never a dot-directory; ".inbox" would shadow it.
    return canonical === name && !isInbox(canonical) ? canonical : undefined;
  } catch {
    return undefined;
  }
}

export function specialUseOf(canonical: string): SpecialUse | undefined {
  return SPECIAL_USE[canonical];
}

/** The parent names a folder needs ("A/B/C" → ["A", "A/B"]). */
export function superiorNames(canonical: string): string[] {
  const parts = canonical.split('/');
  return parts.slice(1).map((_, i) => parts.slice(0, i + 1).join('/'));
}

/** Whether `name` is `parent` itself or below it. */
export function isSelfOrChild(name: string, parent: string): boolean {
  return name === parent || name.startsWith(`${parent}/`);
}
