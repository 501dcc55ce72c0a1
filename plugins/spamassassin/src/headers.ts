/**
 * The X-Spam-* headers in SpamAssassin's usual shape (its `add_header all Status "_YESNO_,
 * score=_SCORE_ required=_REQD_ tests=_TESTS_ …"`), so filters written for SpamAssassin
 * (Sieve, procmail, mail clients) work unchanged.
 */

/** A score as SpamAssassin prints it: one decimal ("7.2", "-0.1", "1000.0"). */
export function formatScore(score: number): string {
  const text = score.toFixed(1);
  return text === '-0.0' ? '0.0' : text;
}

/**
 * The headers to add, in order.
 * @example
 * spamHeaders({ isSpam: true, score: 7.2, required: 5, tests: ['GTUBE'] });
 * // [['X-Spam-Flag', 'YES'], ['X-Spam-Score', '7.2'], ['X-Spam-Status', 'Yes, score=7.2 required=5.0 tests=GTUBE']]
 */
export function spamHeaders(scan: { isSpam: boolean; score: number; required: number; tests: readonly string[] }): Array<[string, string]> {
  const tests = scan.tests.length > 0 ? scan.tests.join(',') : 'none';
  return [
    ['X-Spam-Flag', scan.isSpam ? 'YES' : 'NO'],
    ['X-Spam-Score', formatScore(scan.score)],
    ['X-Spam-Status', fold('X-Spam-Status', `${scan.isSpam ? 'Yes' : 'No'}, score=${formatScore(scan.score)} required=${formatScore(scan.required)} tests=${tests}`)],
  ];
}

/**
 * Fold a header value (RFC 5322 2.2.3) so that lines stay within 78 characters, breaking after a
 * space or after a comma of the tests list (as SpamAssassin does); continuation lines start with a tab.
 */
export function fold(name: string, value: string, width = 78): string {
  const pieces = value.match(/[^ ,]*(?:[ ,]|$)/g)?.filter((p) => p !== '') ?? [value];
  const lines: string[] = [];
  let line = '';
  let used = name.length + 2;
  for (const piece of pieces) {
    if (line !== '' && used + piece.trimEnd().length > width) {
      lines.push(line.trimEnd());
      line = '';
      used = 1;
    }
    line += piece;
    used += piece.length;
  }
  lines.push(line.trimEnd());
  return lines.join('\r\n\t');
}
