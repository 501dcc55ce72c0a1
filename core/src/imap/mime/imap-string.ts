/**
 * IMAP strings in the responses this directory builds (RFC 3501 4.3, 9: string = quoted / literal).
 *
 * Every string these modules return is JavaScript text meant to be written as UTF-8: a literal
 * announces its length in UTF-8 octets ({n} = Buffer.byteLength(text)), so write the whole
 * response with Buffer.from(response, 'utf8'). Raw 8-bit header bytes that are not UTF-8 were
 * read as Latin-1 (charset.ts), so they go out as their UTF-8 encoding rather than raw.
 */

/**
 * A quoted string when that is safe — printable 7-bit text without `"` or `\` — else a literal
 * {n}\r\n... (like Dovecot 2.3, which also sends quoted-specials as a literal rather than
 * escaping them). NUL cannot be sent in either form and is dropped.
 */
export function imapString(text: string): string {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) {
      if (c === 0x09) continue; // TAB is a TEXT-CHAR
      const clean = text.includes('\0') ? text.replace(/\0/g, '') : text;
      return `{${Buffer.byteLength(clean, 'utf8')}}\r\n${clean}`;
    }
  }
  return `"${text}"`;
}

/** imapString, or NIL for null/undefined. */
export function imapNString(text: string | null | undefined): string {
  return text == null ? 'NIL' : imapString(text);
}

/**
 * Text meant for people (a display name, a subject) tidied as Dovecot does before sending it:
 * CR and LF removed, each run of blanks (space, TAB) made one space, leading and trailing blanks
 * dropped.
 */
export function forHumans(text: string): string {
  let tidy = true;
  for (let i = 0; i < text.length && tidy; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x0d || c === 0x0a || c === 0x09) tidy = false;
    else if (c === 0x20 && (i === 0 || i === text.length - 1 || text.charCodeAt(i + 1) === 0x20)) tidy = false;
  }
  return tidy ? text : text.replace(/[\r\n]/g, '').replace(/[ \t]+/g, ' ').replace(/^ | $/g, '');
}

/** A parenthesised list, or NIL when empty. */
export function imapList(items: readonly string[]): string {
  return items.length === 0 ? 'NIL' : `(${items.join(' ')})`;
}
