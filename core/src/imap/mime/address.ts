/**
 * RFC 5322 address lists (From, To, Cc, ...) parsed the way IMAP's ENVELOPE wants them:
 * (name adl mailbox host) per mailbox, groups as a start marker (NIL NIL "group" NIL) and an end
 * marker (NIL NIL NIL NIL). Tolerant: never throws; what it cannot make sense of becomes a
 * mailbox with "MISSING_MAILBOX" / "MISSING_DOMAIN" placeholders, as Dovecot reports them.
 *
 * Names stay raw (RFC 2047 encoded-words are not decoded; the client does that): phrase words
 * are joined by one space, quoted strings lose their quotes and backslashes, and a mailbox
 * written without angle brackets takes its trailing comment as its name ("a@b (Alice)").
 */

export interface EnvelopeAddress {
  name: string | null;
  /** The obsolete source route ("@a,@b"), or null. */
  adl: string | null;
  /** The local part; for a group start, the group name; null in a group end marker. */
  mailbox: string | null;
  /** null in group markers. */
  host: string | null;
}

type Token =
  | { kind: 'word'; text: string; quoted: boolean } // atom (dots included) or quoted-string
  | { kind: 'literal'; text: string } // [domain literal], brackets kept
  | { kind: 'comment'; text: string }
  | { kind: 'special'; char: string };

/** RFC 5322 specials that end an atom ("." is kept in atoms: dot-atoms and obs-phrase "J. Smith"). */
function isSpecial(c: number): boolean {
  switch (c) {
    case 0x3c: case 0x3e: case 0x40: case 0x2c: case 0x3b: case 0x3a: case 0x22: case 0x28: case 0x29: case 0x5b: case 0x5d:
      return true;
    default:
      return false;
  }
}

function isBlank(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a;
}

/** Backslash quoted-pairs of a quoted-string or comment body undone. */
function unquote(text: string): string {
  return text.includes('\\') ? text.replace(/\\([\s\S])/g, '$1') : text;
}

function tokenize(s: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  const n = s.length;
  while (i < n) {
    const c = s.charCodeAt(i);
    if (isBlank(c)) {
      i++;
    } else if (c === 0x22) {
      // quoted-string: up to the next unescaped quote (or the end)
      let j = i + 1;
      while (j < n && s.charCodeAt(j) !== 0x22) j += s.charCodeAt(j) === 0x5c ? 2 : 1;
      tokens.push({ kind: 'word', text: unquote(s.slice(i + 1, Math.min(j, n))), quoted: true });
      i = j + 1;
    } else if (c === 0x28) {
      // comment, nested ones included in its text
      let depth = 0;
      let j = i;
      for (; j < n; j++) {
        const d = s.charCodeAt(j);
        if (d === 0x5c) j++;
        else if (d === 0x28) depth++;
        else if (d === 0x29 && --depth === 0) break;
      }
      tokens.push({ kind: 'comment', text: unquote(s.slice(i + 1, Math.min(j, n))) });
      i = j + 1;
    } else if (c === 0x5b) {
      const close = s.indexOf(']', i);
      const stop = close < 0 ? n : close + 1;
      tokens.push({ kind: 'literal', text: s.slice(i, stop).replace(/[ \t]+/g, '') });
      i = stop;
    } else if (isSpecial(c)) {
      tokens.push({ kind: 'special', char: s[i]! });
      i++;
    } else {
      const start = i;
      while (i < n && !isSpecial(s.charCodeAt(i)) && !isBlank(s.charCodeAt(i))) i++;
      tokens.push({ kind: 'word', text: s.slice(start, i), quoted: false });
    }
  }
  return tokens;
}

const MISSING_MAILBOX = 'MISSING_MAILBOX';
const MISSING_DOMAIN = 'MISSING_DOMAIN';

class AddressParser {
  #pos = 0;
  readonly out: EnvelopeAddress[] = [];
  constructor(private readonly tokens: Token[]) {}

  #peek(): Token | undefined {
    // comments are skipped by every reader except the ones that want them
    while (this.tokens[this.#pos]?.kind === 'comment') this.#pos++;
    return this.tokens[this.#pos];
  }

  #isSpecial(char: string): boolean {
    const t = this.#peek();
    return t?.kind === 'special' && t.char === char;
  }

  parseList(): EnvelopeAddress[] {
    for (;;) {
      while (this.#isSpecial(',')) this.#pos++;
      if (!this.#peek()) break;
      const before = this.#pos;
      this.#address(false);
      if (this.#pos === before) this.#pos++; // never stall on a stray token
    }
    return this.out;
  }

  /** Words of a display name or group name: joined by one space. */
  #phrase(): string[] {
    const words: string[] = [];
    for (let t = this.#peek(); t?.kind === 'word'; t = this.#peek()) {
      words.push(t.text);
      this.#pos++;
    }
    return words;
  }

  #address(inGroup: boolean): void {
    const start = this.#pos;
    const words = this.#phrase();
    const next = this.#peek();
    if (!inGroup && next?.kind === 'special' && next.char === ':' && words.length > 0) {
      this.#pos++;
      this.out.push({ name: null, adl: null, mailbox: words.join(' '), host: null });
      for (;;) {
        while (this.#isSpecial(',')) this.#pos++;
        const t = this.#peek();
        if (!t) break;
        if (t.kind === 'special' && t.char === ';') {
          this.#pos++;
          break;
        }
        const before = this.#pos;
        this.#address(true);
        if (this.#pos === before) this.#pos++;
      }
      this.out.push({ name: null, adl: null, mailbox: null, host: null });
      return;
    }
    if (next?.kind === 'special' && next.char === '<') {
      this.#angle(words.length > 0 ? words.join(' ') : null);
      return;
    }
    // addr-spec: local-part [ "@" domain ] [comment]; the words read so far are the local part
    this.#pos = start;
    this.#addrSpec();
  }

  #angle(name: string | null): void {
    this.#pos++; // "<"
    let adl: string | null = null;
    if (this.#isSpecial('@')) {
      // obs-route: "@a,@b:" before the address
      const route: string[] = [];
      while (this.#isSpecial('@') || this.#isSpecial(',')) {
        if (this.#isSpecial(',')) {
          this.#pos++;
          continue;
        }
        this.#pos++;
        const t = this.#peek();
        if (t && (t.kind === 'word' || t.kind === 'literal')) {
          route.push(`@${t.text}`);
          this.#pos++;
        }
      }
      if (this.#isSpecial(':')) {
        this.#pos++;
        adl = route.join(',');
      } else if (route.length > 0) {
        // "<@host>": no route after all, it was an address without a local part
        this.#push(name, null, null, route[route.length - 1]!.slice(1));
        this.#skipTo('>');
        return;
      }
    }
    const local = this.#localPart();
    let host: string | null = null;
    if (this.#isSpecial('@')) {
      this.#pos++;
      host = this.#domain();
    }
    this.#skipTo('>');
    this.#push(name, adl, local, host);
  }

  /** Skip to and past `char` (or to the next "," when it is missing). */
  #skipTo(char: string): void {
    for (let t = this.#peek(); t; t = this.#peek()) {
      if (t.kind === 'special' && t.char === char) {
        this.#pos++;
        return;
      }
      if (t.kind === 'special' && (t.char === ',' || t.char === ';')) return;
      this.#pos++;
    }
  }

  /** dot-atom or quoted-string; "a. b" / "a .b" (obs-local-part) are joined. */
  #localPart(): string | null {
    let t = this.#peek();
    if (t?.kind !== 'word') return null;
    let local = t.text;
    this.#pos++;
    for (t = this.#peek(); t?.kind === 'word' && (local.endsWith('.') || t.text.startsWith('.')); t = this.#peek()) {
      local += t.text;
      this.#pos++;
    }
    return local;
  }

  #domain(): string | null {
    const t = this.#peek();
    if (t && (t.kind === 'word' || t.kind === 'literal')) {
      this.#pos++;
      return t.text;
    }
    return null;
  }

  #addrSpec(): void {
    this.#peek(); // comments before the local part are not its name
    const first = this.#pos;
    const local = this.#localPart();
    let host: string | null = null;
    if (this.#isSpecial('@')) {
      this.#pos++;
      host = this.#domain();
    }
    // the last comment after the start of the address ("a@b (c1) (c2)" → "c2") is its name
    let end = this.#pos;
    while (this.tokens[end]?.kind === 'comment') end++;
    let name: string | null = null;
    for (let i = first; i < end; i++) {
      const t = this.tokens[i]!;
      if (t.kind === 'comment') name = t.text;
    }
    this.#pos = end;
    // junk up to the next separator is skipped
    for (let t = this.#peek(); t && !(t.kind === 'special' && (t.char === ',' || t.char === ';')); t = this.#peek()) this.#pos++;
    if (local === null && host === null) return;
    this.#push(name, null, local, host);
  }

  #push(name: string | null, adl: string | null, mailbox: string | null, host: string | null): void {
    this.out.push({
      name: name === '' ? null : name,
      adl,
      mailbox: mailbox === null || mailbox === '' ? MISSING_MAILBOX : mailbox,
      host: host === null || host === '' ? MISSING_DOMAIN : host,
    });
  }
}

/** The general parser: any address list, however odd (see the file comment). */
export function parseAddressListFull(value: string): EnvelopeAddress[] {
  return new AddressParser(tokenize(value)).parseList();
}

// A fast path for the shape nearly every header has — comma-separated `addr@host` and
// `Name <addr@host>` with no quotes, comments, groups or routes, or a single `"Name" <addr@host>`
// — found with indexOf instead of the tokenizer. Anything else goes to the general parser,
// with which it agrees (test/imap-mime.test.ts checks that).

function isBlankAt(s: string, i: number): boolean {
  return isBlank(s.charCodeAt(i));
}

/** s[from, to) without blanks (SP, TAB, CR, LF) at either end: [from, to). */
function trimRange(s: string, from: number, to: number): [number, number] {
  while (from < to && isBlankAt(s, from)) from++;
  while (to > from && isBlankAt(s, to - 1)) to--;
  return [from, to];
}

/** True when s[from, to) holds no blank and none of `<>@`. */
function isPlainWord(s: string, from: number, to: number): boolean {
  if (from >= to) return false;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (isBlank(c) || c === 0x3c || c === 0x3e || c === 0x40) return false;
  }
  return true;
}

/** `local@host` or `phrase <local@host>` in s[from, to) (already trimmed), or null. */
function simpleAddress(s: string, from: number, to: number): EnvelopeAddress | null {
  let name: string | null = null;
  let addrFrom = from;
  let addrTo = to;
  if (s.charCodeAt(to - 1) === 0x3e) {
    const lt = s.indexOf('<', from);
    if (lt < 0 || lt >= to) return null;
    const [nameFrom, nameTo] = trimRange(s, from, lt);
    for (let i = nameFrom; i < nameTo; i++) {
      const c = s.charCodeAt(i);
      if (c === 0x3c || c === 0x3e || c === 0x40) return null;
    }
    if (nameTo > nameFrom) {
      name = s.slice(nameFrom, nameTo);
      if (/[ \t\r\n]{2}|[\t\r\n]/.test(name)) name = name.replace(/[ \t\r\n]+/g, ' '); // phrase words joined by one space
    }
    addrFrom = lt + 1;
    addrTo = to - 1;
  }
  const at = s.indexOf('@', addrFrom);
  if (at < 0 || at >= addrTo || !isPlainWord(s, addrFrom, at) || !isPlainWord(s, at + 1, addrTo)) return null;
  return { name, adl: null, mailbox: s.slice(addrFrom, at), host: s.slice(at + 1, addrTo) };
}

const NOT_SIMPLE = /["()[\]:;\\]/;
const QUOTED_NAME_ADDR = /^[ \t\r\n]*"([^"\\]*)"[ \t\r\n]*<([^\s<>@"()[\]:;\\,]+)@([^\s<>@"()[\]:;\\,]+)>[ \t\r\n]*$/;

function simpleList(value: string): EnvelopeAddress[] | null {
  if (NOT_SIMPLE.test(value)) {
    const m = QUOTED_NAME_ADDR.exec(value);
    return m ? [{ name: m[1] === '' ? null : m[1]!, adl: null, mailbox: m[2]!, host: m[3]! }] : null;
  }
  const out: EnvelopeAddress[] = [];
  for (let from = 0; from <= value.length; ) {
    let comma = value.indexOf(',', from);
    if (comma < 0) comma = value.length;
    const [a, b] = trimRange(value, from, comma);
    if (b > a) {
      const address = simpleAddress(value, a, b);
      if (!address) return null;
      out.push(address);
    }
    from = comma + 1;
  }
  return out;
}

/**
 * The addresses of an unfolded address-list header value ([] when it holds none).
 *
 * @example
 *   parseAddressList('Team: a@b.test;, "C" <c@d.test>');
 *   // [{ name: null, adl: null, mailbox: 'Team', host: null }, { name: null, adl: null, mailbox: 'a', host: 'b.test' },
 *   //  { name: null, adl: null, mailbox: null, host: null }, { name: 'C', adl: null, mailbox: 'c', host: 'd.test' }]
 */
export function parseAddressList(value: string): EnvelopeAddress[] {
  return simpleList(value) ?? parseAddressListFull(value);
}
