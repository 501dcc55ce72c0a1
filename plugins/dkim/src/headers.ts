import { domainToASCII } from 'node:url';

/** The header block of a message (up to the first empty line), as text. */
export function headerBlock(message: Buffer): string {
  const end = message.indexOf('\r\n\r\n');
  // UTF-8: an SMTPUTF8 From (RFC 6532) must decode to the right IDN; other 8-bit bytes do not matter here.
  return message.subarray(0, end === -1 ? message.length : end + 2).toString('utf8');
}

/** The unfolded values of every `name` field in a header block, in order. */
export function headerValues(block: string, name: string): string[] {
  const unfolded = block.replace(/\r?\n(?=[ \t])/g, '');
  const wanted = name.toLowerCase();
  const values: string[] = [];
  for (const line of unfolded.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon > 0 && line.slice(0, colon).trim().toLowerCase() === wanted) values.push(line.slice(colon + 1).trim());
  }
  return values;
}

/**
 * The domain of the From header's address, lower-cased (IDNs as A-labels): `Name <a@b.test>` or `a@b.test`
 * (comments and quoted display names ignored). undefined when there is no From, more than one
 * From field, or an address without a domain.
 */
export function fromDomain(block: string): string | undefined {
  const froms = headerValues(block, 'from');
  if (froms.length !== 1) return undefined;
  const value = froms[0]!
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\((?:[^()\\]|\\.)*\)/g, ' ');
  const address = /<([^<>]*)>/.exec(value)?.[1] ?? value.split(/[,;]/)[0] ?? '';
  const at = address.lastIndexOf('@');
  if (at === -1) return undefined;
  const domain = address.slice(at + 1).trim().replace(/\.$/, '').toLowerCase();
  // An internationalised domain's keys live under its A-label (xn--...) name, as in DNS.
  const ascii = domain === '' ? '' : domainToASCII(domain);
  return ascii === '' ? undefined : ascii;
}
