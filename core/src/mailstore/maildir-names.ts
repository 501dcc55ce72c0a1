import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';

/**
 * Maildir file names. A name is "<base>[:<info>]": the base is unique and never changes, the
 * info (":2,FS") carries the system flags and changes with them. Postern's bases start with the
 * time ("<sec>.M<usec>…", core/src/delivery/maildir.ts) and end with ",S=<size>", so the index
 * can learn a new file's internal date and size from its name without a stat.
 */

export interface MaildirName {
  base: string;
  /** ":2,FS" as it is in the name, or "" when the name has no info. */
  info: string;
}

export function splitName(name: string): MaildirName {
  const colon = name.indexOf(':');
  return colon < 0 ? { base: name, info: '' } : { base: name.slice(0, colon), info: name.slice(colon) };
}

const TIME = /^(\d{1,12})\.M(\d{1,6})(?!\d)/;
const SIZE = /,S=(\d{1,15})(?:,|$)/;

/** The time in a base ("1767000000.M123000Q…" → ms), or undefined for a name of another form. */
export function timeOfBase(base: string): number | undefined {
  const m = TIME.exec(base);
  return m ? Number(m[1]) * 1000 + Math.floor(Number(m[2]) / 1000) : undefined;
}

/** The ",S=<size>" of a base (Maildir++), or undefined. */
export function sizeOfBase(base: string): number | undefined {
  const m = SIZE.exec(base);
  return m ? Number(m[1]) : undefined;
}

/** Maildir's rule for the host part: no "/" or ":" (nor "," here, which would end the S= field). */
const HOST = hostname().replace(/\//g, '\\057').replace(/:/g, '\\072').replace(/,/g, '\\054');

/**
 * A new unique base for a message the store writes (APPEND, COPY): the time part is the message's
 * internal date, so a rebuild of the index finds the same date in the name; a random part keeps
 * two messages of the same millisecond apart.
 */
export function newBase(internalDate: number, size: number): string {
  const ms = Math.max(0, Math.floor(internalDate));
  const sec = Math.floor(ms / 1000);
  const usec = (ms % 1000) * 1000;
  return `${sec}.M${usec}P${process.pid}R${randomBytes(6).toString('hex')}.${HOST},S=${size}`;
}
