/**
 * Finds a bare LF or bare CR in message data. RFC 5321 §2.3.8 allows CR and LF only as the CRLF
 * pair; receivers that accept bare ones disagree with each other about where a message ends, which
 * is the root of SMTP smuggling (CVE-2023-51764 and friends): `<LF>.<CR><LF>` ends a message for
 * one server and not for the next. smtp-server only ends DATA at `<CR><LF>.<CR><LF>`, so such a
 * sequence stays inside our message; we then refuse the whole message rather than pass it on.
 *
 * Returns the byte offset of the first offender, or -1.
 */
export function findBareLineEnding(data: Buffer): number {
  let pos = data.indexOf(0x0a);
  while (pos !== -1) {
    if (pos === 0 || data[pos - 1] !== 0x0d) return pos;
    pos = data.indexOf(0x0a, pos + 1);
  }
  pos = data.indexOf(0x0d);
  while (pos !== -1) {
    if (data[pos + 1] !== 0x0a) return pos;
    pos = data.indexOf(0x0d, pos + 1);
  }
  return -1;
}
