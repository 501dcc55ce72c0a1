import { decodeMailboxName } from './mutf7.js';
import { bad } from './protocol-error.js';

/**
 * A cursor over one framed command (RFC 3501 section 9 grammar): the handlers of the commands
 * read their arguments through it, so the wire syntax stays here. Literals are inline, as the
 * client sent them: `{n}` or `{n+}`, CRLF, n bytes (the CommandReader has checked their sizes).
 * Every method throws ImapError BAD on a syntax error.
 */

const SP = 0x20;
const DQUOTE = 0x22;
const BACKSLASH = 0x5c;
const LPAREN = 0x28;
const RPAREN = 0x29;
const LBRACE = 0x7b;

/** atom-specials: ( ) { SP CTL % * " \ ] (and 8-bit, which atoms never hold). */
const ATOM_CHAR = new Uint8Array(256);
for (let c = 0x21; c < 0x7f; c++) ATOM_CHAR[c] = 1;
for (const c of '(){%*"\\]') ATOM_CHAR[c.charCodeAt(0)] = 0;
/** ASTRING-CHAR: ATOM-CHAR and "]". */
const ASTRING_CHAR = ATOM_CHAR.slice();
ASTRING_CHAR[0x5d] = 1;
/** list-char (LIST patterns): ATOM-CHAR, list-wildcards and resp-specials. */
const LIST_CHAR = ASTRING_CHAR.slice();
LIST_CHAR[0x25] = 1;
LIST_CHAR[0x2a] = 1;
/** Sequence sets: digits : , * */
const SEQ_CHAR = new Uint8Array(256);
for (const c of '0123456789:,*') SEQ_CHAR[c.charCodeAt(0)] = 1;

export class ArgReader {
  readonly data: Buffer;
  pos: number;

  constructor(data: Buffer, pos = 0) {
    this.data = data;
    this.pos = pos;
  }

  get atEnd(): boolean {
    return this.pos >= this.data.length;
  }

  /** The next byte without consuming it (-1 at the end). */
  peek(): number {
    return this.pos < this.data.length ? this.data[this.pos]! : -1;
  }

  /** Consume `byte` when it is next. */
  accept(byte: number): boolean {
    if (this.peek() !== byte) return false;
    this.pos++;
    return true;
  }

  expect(byte: number, what: string): void {
    if (!this.accept(byte)) throw bad(`Expected ${what}`);
  }

  /** Exactly one space. */
  sp(): void {
    this.expect(SP, 'a space');
  }

  /** The end of the command: nothing may follow. */
  end(): void {
    if (!this.atEnd) throw bad('Unexpected extra arguments');
  }

  /** Whether there is a space (and more) next; consumes the space. */
  more(): boolean {
    return this.accept(SP);
  }

  #run(table: Uint8Array): string {
    const start = this.pos;
    while (this.pos < this.data.length && table[this.data[this.pos]!]) this.pos++;
    return this.data.toString('latin1', start, this.pos);
  }

  /** An atom (1*ATOM-CHAR). */
  atom(what = 'an atom'): string {
    const value = this.#run(ATOM_CHAR);
    if (value.length === 0) throw bad(`Expected ${what}`);
    return value;
  }

  /** A number (RFC 3501 number: 32-bit unsigned; `max` widens it, e.g. for mod-sequences). */
  number(what = 'a number', max = 0xffffffff): number {
    const start = this.pos;
    while (this.pos < this.data.length && this.data[this.pos]! >= 0x30 && this.data[this.pos]! <= 0x39) this.pos++;
    const text = this.data.toString('latin1', start, this.pos);
    if (text.length === 0 || text.length > 20) throw bad(`Expected ${what}`);
    const value = Number(text);
    if (!Number.isSafeInteger(value) || value > max) throw bad(`${what} out of range`);
    return value;
  }

  /** A non-zero number (nz-number). */
  nzNumber(what = 'a number'): number {
    const value = this.number(what);
    if (value === 0) throw bad(`${what} must not be 0`);
    return value;
  }

  /** A mod-sequence value (RFC 7162: 1..2^63-1; JavaScript keeps up to 2^53-1 exactly). */
  modseq(what = 'a mod-sequence'): number {
    return this.number(what, Number.MAX_SAFE_INTEGER);
  }

  /** A quoted string or a literal, as bytes. */
  string(what = 'a string'): Buffer {
    const c = this.peek();
    if (c === DQUOTE) return this.#quoted();
    if (c === LBRACE) return this.#literal();
    throw bad(`Expected ${what}`);
  }

  /** astring: an atom (with "]") or a string, as bytes. */
  astring(what = 'a string'): Buffer {
    const c = this.peek();
    if (c === DQUOTE || c === LBRACE) return this.string(what);
    const start = this.pos;
    this.#run(ASTRING_CHAR);
    if (this.pos === start) throw bad(`Expected ${what}`);
    return this.data.subarray(start, this.pos);
  }

  /** An astring as text (UTF-8). */
  astringText(what = 'a string'): string {
    return this.astring(what).toString('utf8');
  }

  /**
   * A mailbox name: an astring in modified UTF-7, decoded (BAD when it is not valid); "INBOX"
   * in any case is "INBOX" (RFC 3501 5.1).
   */
  mailbox(): string {
    const name = decodeMailboxName(this.astring('a mailbox name'));
    return name.toUpperCase() === 'INBOX' ? 'INBOX' : name;
  }

  /** nstring: NIL or a string; undefined for NIL. */
  nstring(what = 'a string'): Buffer | undefined {
    if (this.#acceptWord('NIL')) return undefined;
    return this.string(what);
  }

  /** A LIST pattern: list-char run (with % and *) or a string. */
  listMailbox(): Buffer {
    const c = this.peek();
    if (c === DQUOTE || c === LBRACE) return this.string('a mailbox pattern');
    const start = this.pos;
    this.#run(LIST_CHAR);
    if (this.pos === start) throw bad('Expected a mailbox pattern');
    return this.data.subarray(start, this.pos);
  }

  /** The raw text of a sequence set (parse it with sequence-set.ts). */
  sequenceSetText(): string {
    const value = this.#run(SEQ_CHAR);
    if (value.length === 0) throw bad('Expected a sequence set');
    return value;
  }

  /** Whether a sequence set comes next (a digit or "*"). */
  atSequenceSet(): boolean {
    const c = this.peek();
    return (c >= 0x30 && c <= 0x39) || c === 0x2a;
  }

  /** A flag: "\" atom or a keyword atom. */
  flag(): string {
    if (this.accept(BACKSLASH)) {
      if (this.accept(0x2a)) return '\\*';
      return `\\${this.atom('a flag')}`;
    }
    return this.atom('a flag');
  }

  /** A parenthesised, space-separated list: `(` item *(SP item) `)`, possibly empty. */
  list<T>(item: () => T, allowEmpty = true): T[] {
    this.expect(LPAREN, '"("');
    const items: T[] = [];
    if (this.accept(RPAREN)) {
      if (!allowEmpty) throw bad('Empty list');
      return items;
    }
    for (;;) {
      items.push(item());
      if (this.accept(RPAREN)) return items;
      this.sp();
    }
  }

  /** Whether the next bytes are `word` (case-insensitive) followed by a delimiter; consumes it. */
  #acceptWord(word: string): boolean {
    const end = this.pos + word.length;
    if (end > this.data.length) return false;
    if (this.data.toString('latin1', this.pos, end).toUpperCase() !== word) return false;
    const next = end < this.data.length ? this.data[end]! : -1;
    if (next !== -1 && next !== SP && next !== RPAREN) return false;
    this.pos = end;
    return true;
  }

  /** Consume `word` (case-insensitive, as a whole atom) when it comes next. */
  acceptWord(word: string): boolean {
    return this.#acceptWord(word.toUpperCase());
  }

  #quoted(): Buffer {
    this.pos++; // the opening quote
    const parts: number[] = [];
    const start = this.pos;
    let simple = true;
    while (this.pos < this.data.length) {
      const c = this.data[this.pos]!;
      if (c === DQUOTE) {
        const value = simple ? this.data.subarray(start, this.pos) : Buffer.from(parts);
        this.pos++;
        return value;
      }
      if (c === 0x0d || c === 0x0a || c === 0) throw bad('Bad character in a quoted string');
      if (c === BACKSLASH) {
        const next = this.data[this.pos + 1];
        if (next !== DQUOTE && next !== BACKSLASH) throw bad('Bad escape in a quoted string');
        if (simple) {
          for (let i = start; i < this.pos; i++) parts.push(this.data[i]!);
          simple = false;
        }
        parts.push(next);
        this.pos += 2;
        continue;
      }
      if (!simple) parts.push(c);
      this.pos++;
    }
    throw bad('Unterminated quoted string');
  }

  #literal(): Buffer {
    const close = this.data.indexOf(0x7d, this.pos);
    const head = close < 0 ? '' : this.data.toString('latin1', this.pos, close + 1);
    const match = /^\{(\d{1,20})\+?\}$/.exec(head);
    if (!match) throw bad('Bad literal');
    const size = Number(match[1]);
    let at = close + 1;
    if (this.data[at] === 0x0d) at++;
    if (this.data[at] !== 0x0a) throw bad('A literal must end its line');
    at++;
    if (at + size > this.data.length) throw bad('Short literal');
    this.pos = at + size;
    return this.data.subarray(at, at + size);
  }
}
