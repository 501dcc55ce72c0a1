/** RFC 5322 §2.1.1: lines SHOULD be at most 78 characters, excluding the CRLF. */
const SOFT_LIMIT = 78;

/**
 * Fold a header field's value so that no line of `Name: value` passes 78 characters where it has
 * a space or tab to break at (RFC 5322 §2.2.3): a CRLF goes in before that whitespace, which
 * unfolding removes again, so the meaning is unchanged (DKIM's relaxed canonicalization too).
 * Existing folds are kept; a run without whitespace stays long (legal up to 998).
 * @example
 * foldHeader('Received-SPF', 'pass (mx: domain of a@b.test designates 192.0.2.1 ...) client-ip=...');
 */
export function foldHeader(name: string, value: string): string {
  const lines = value.split('\r\n');
  const out: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i]!;
    // The first line shares its room with "Name: ".
    let offset = i === 0 ? name.length + 2 : 0;
    while (offset + line.length > SOFT_LIMIT) {
      const room = SOFT_LIMIT - offset;
      // The last whitespace within the room that leaves something before it.
      let cut = -1;
      for (let j = Math.min(room, line.length - 1); j > 0; j--) {
        if (line[j] === ' ' || line[j] === '\t') {
          cut = j;
          break;
        }
      }
      if (cut <= 0 || line.slice(0, cut).trim() === '') break;
      out.push(line.slice(0, cut));
      line = line.slice(cut);
      offset = 0;
    }
    out.push(line);
  }
  return out.join('\r\n');
}
