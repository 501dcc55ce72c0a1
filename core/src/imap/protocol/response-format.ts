import { encodeMailboxName } from './mutf7.js';

/** Building blocks of server responses (RFC 3501 9): strings, mailbox names, flag lists. */

/** A string as a quoted string when it can be one (7-bit text without CR, LF, NUL), else as a literal. */
export function imapString(value: string): string {
  // eslint-disable-next-line no-control-regex
  if (value.length < 1024 && !/[\r\n\0\x80-\uffff]/.test(value)) return `"${value.replace(/[\\"]/g, '\\$&')}"`;
  return `{${Buffer.byteLength(value, 'utf8')}}\r\n${value}`;
}

/** nstring: NIL or a string. */
export function imapNString(value: string | undefined | null): string {
  return value === undefined || value === null ? 'NIL' : imapString(value);
}

/** A mailbox name from the store: modified UTF-7, quoted. */
export function imapMailbox(name: string): string {
  return imapString(encodeMailboxName(name));
}

/** A flag list: `(\Seen $Forwarded)`. */
export function flagList(flags: readonly string[]): string {
  return `(${flags.join(' ')})`;
}

/** A response code and text: `[CODE] text`, or just the text. */
export function withCode(code: string | undefined, text: string): string {
  return code ? `[${code}] ${text}` : text;
}

/** Text safe to put into a response line: no CR, LF or other control characters. */
export function safeText(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\x00-\x1f\x7f]+/g, ' ').slice(0, 500);
}
