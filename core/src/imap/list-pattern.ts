/**
 * LIST/LSUB patterns (RFC 3501 6.3.8): "*" matches anything, "%" anything but the hierarchy
 * delimiter "/". INBOX matches in any case.
 */
export function listMatcher(pattern: string): (name: string) => boolean {
  let source = '';
  for (const ch of pattern) {
    if (ch === '*') source += '.*';
    else if (ch === '%') source += '[^/]*';
    else source += ch.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  }
  const exact = new RegExp(`^${source}$`, 'su');
  const caseless = new RegExp(`^${source}$`, 'isu');
  return (name) => exact.test(name) || ((name === 'INBOX' || name.startsWith('INBOX/')) && caseless.test(name));
}

/** The names, plus every ancestor ("a" and "a/b" for "a/b/c") that is not itself a name. */
export function withAncestors(names: readonly string[]): { name: string; implied: boolean }[] {
  const have = new Set(names);
  const out = names.map((name) => ({ name, implied: false }));
  const added = new Set<string>();
  for (const name of names) {
    const parts = name.split('/');
    for (let i = 1; i < parts.length; i++) {
      const parent = parts.slice(0, i).join('/');
      if (parent === '' || have.has(parent) || added.has(parent)) continue;
      added.add(parent);
      out.push({ name: parent, implied: true });
    }
  }
  return out;
}
