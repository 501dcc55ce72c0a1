import type { Duplex } from 'node:stream';

/**
 * Frames IMAP commands off a byte stream: a command is a line, or a line ending in a literal
 * announcement `{n}` (synchronising: the server answers "+" first) or `{n+}` (LITERAL+, RFC 7888),
 * n bytes of literal, and more line. The reader pulls: it parses one command only when asked, so
 * that bytes sent after STARTTLS are never read as commands, and pauses the socket when the
 * client runs too far ahead.
 *
 * Limits (never buffer unbounded data):
 * - the line bytes of one command (literals excluded) are at most `maxLineBytes`; a longer line is
 *   discarded up to its end and answered BAD;
 * - a literal larger than `literalLimit(firstLine)` (APPEND may carry a message, other commands
 *   a line's worth) is refused before it is read: synchronising → `NO [TOOBIG]` (the client then
 *   does not send it), non-synchronising → BAD and the connection closes.
 */

export interface ReaderLimits {
  maxLineBytes: number;
  /** The largest literal total a command may carry, from its first line (its tag and name). */
  literalLimit(firstLine: Buffer): number;
  /** What one connection may discard (an over-long line) before it is closed. */
  maxDiscardBytes: number;
}

export type Frame =
  | { kind: 'command'; data: Buffer }
  | { kind: 'error'; tag: string; status: 'BAD' | 'NO'; code?: string; text: string; fatal: boolean }
  | { kind: 'end' };

export type LineResult = { kind: 'line'; data: Buffer } | { kind: 'too-long'; fatal: boolean } | { kind: 'end' };

const LF = 0x0a;
const CR = 0x0d;
/** Bytes the reader holds for the client while no command is asked for, before it pauses the socket. */
const QUEUE_HIGH_WATER = 256 * 1024;
const LITERAL_MARKER = /\{(\d{1,20})(\+)?\}$/;

type Mode = 'idle' | 'command' | 'line';

export class CommandReader {
  #socket: Duplex;
  readonly #limits: ReaderLimits;
  readonly #continuation: () => void;
  #queue: Buffer[] = [];
  #queued = 0;
  #ended = false;
  #mode: Mode = 'idle';
  #resolve: ((frame: Frame | LineResult) => void) | undefined;

  // The command (or continuation line) being read.
  #parts: Buffer[] = [];
  #line: Buffer[] = [];
  #lineLength = 0;
  #lineTotal = 0;
  #firstLine: Buffer | undefined;
  #literalRemaining = 0;
  #literalTotal = 0;
  #literalLimit = 0;
  #discarding = false;
  #discarded = 0;
  #discardTail = Buffer.alloc(0);

  readonly #onData = (chunk: Buffer) => this.#receive(chunk);
  readonly #onEnd = () => this.#finish();

  constructor(socket: Duplex, limits: ReaderLimits, continuation: () => void) {
    this.#socket = socket;
    this.#limits = limits;
    this.#continuation = continuation;
    this.#attach(socket);
  }

  /** Read from another socket (after STARTTLS): whatever the old one had queued is dropped. */
  setSocket(socket: Duplex): void {
    this.#detach(this.#socket);
    this.#queue = [];
    this.#queued = 0;
    this.#socket = socket;
    this.#attach(socket);
  }

  /** Stop reading (the connection is closing): a pending read ends. */
  detach(): void {
    this.#detach(this.#socket);
    this.#finish();
  }

  /** The next command, an error frame for a command that broke a limit, or the end of the stream. */
  next(): Promise<Frame> {
    return this.#start('command') as Promise<Frame>;
  }

  /** The next plain line (an AUTHENTICATE response, IDLE's DONE): no literals. */
  nextLine(): Promise<LineResult> {
    return this.#start('line') as Promise<LineResult>;
  }

  #attach(socket: Duplex): void {
    socket.on('data', this.#onData);
    socket.on('end', this.#onEnd);
    socket.on('close', this.#onEnd);
  }

  #detach(socket: Duplex): void {
    socket.off('data', this.#onData);
    socket.off('end', this.#onEnd);
    socket.off('close', this.#onEnd);
  }

  #start(mode: Mode): Promise<Frame | LineResult> {
    if (this.#mode !== 'idle') throw new Error('CommandReader: a read is already pending');
    return new Promise((resolve) => {
      this.#mode = mode;
      this.#resolve = resolve;
      this.#parts = [];
      this.#line = [];
      this.#lineLength = 0;
      this.#lineTotal = 0;
      this.#firstLine = undefined;
      this.#literalRemaining = 0;
      this.#literalTotal = 0;
      this.#literalLimit = 0;
      this.#discarding = false;
      while (this.#queue.length > 0 && this.#mode !== 'idle') {
        const chunk = this.#queue.shift()!;
        this.#queued -= chunk.length;
        this.#consume(chunk);
      }
      if (this.#mode === 'idle') return;
      if (this.#ended) this.#emit({ kind: 'end' });
      else this.#socket.resume();
    });
  }

  #receive(chunk: Buffer): void {
    if (this.#mode === 'idle') {
      this.#queue.push(chunk);
      this.#queued += chunk.length;
      if (this.#queued > QUEUE_HIGH_WATER) this.#socket.pause();
      return;
    }
    this.#consume(chunk);
  }

  #finish(): void {
    this.#ended = true;
    if (this.#mode !== 'idle') this.#emit({ kind: 'end' });
  }

  #emit(result: Frame | LineResult): void {
    const resolve = this.#resolve!;
    this.#mode = 'idle';
    this.#resolve = undefined;
    this.#parts = [];
    this.#line = [];
    resolve(result);
  }

  /** Feed one chunk into the current read; what is left after a complete frame goes back to the queue. */
  #consume(chunk: Buffer): void {
    let offset = 0;
    while (offset < chunk.length && this.#mode !== 'idle') {
      if (this.#literalRemaining > 0) {
        const take = Math.min(this.#literalRemaining, chunk.length - offset);
        this.#parts.push(chunk.subarray(offset, offset + take));
        this.#literalRemaining -= take;
        offset += take;
        continue;
      }
      const lf = chunk.indexOf(LF, offset);
      const end = lf < 0 ? chunk.length : lf;
      const piece = chunk.subarray(offset, end);
      offset = lf < 0 ? chunk.length : lf + 1;
      if (this.#discarding) {
        this.#discarded += piece.length + (lf < 0 ? 0 : 1);
        this.#discardTail = Buffer.concat([this.#discardTail, piece]).subarray(-24);
        if (this.#discarded > this.#limits.maxDiscardBytes) {
          this.#fail('Too much data without a line end', true);
        } else if (lf >= 0) {
          this.#endOfLongLine();
        }
        continue;
      }
      if (this.#lineTotal + this.#lineLength + piece.length > this.#limits.maxLineBytes) {
        // Keep the head (for the tag), drop the rest up to the line end.
        if (!this.#firstLine) this.#firstLine = Buffer.concat([...this.#line, piece.subarray(0, 128)]).subarray(0, 128);
        this.#discarding = true;
        this.#discarded = this.#lineLength + piece.length;
        this.#discardTail = Buffer.from(piece.subarray(-24));
        this.#line = [];
        if (lf >= 0) this.#endOfLongLine();
        continue;
      }
      this.#line.push(piece);
      this.#lineLength += piece.length;
      if (lf < 0) continue;
      let line = this.#line.length === 1 ? this.#line[0]! : Buffer.concat(this.#line);
      if (line.length > 0 && line[line.length - 1] === CR) line = line.subarray(0, line.length - 1);
      this.#line = [];
      this.#lineTotal += this.#lineLength;
      this.#lineLength = 0;
      if (this.#mode === 'line') this.#emit({ kind: 'line', data: Buffer.from(line) });
      else this.#endOfLine(line);
    }
    if (offset < chunk.length) {
      this.#queue.unshift(chunk.subarray(offset));
      this.#queued += chunk.length - offset;
    }
  }

  #endOfLine(line: Buffer): void {
    if (!this.#firstLine) {
      if (line.length === 0) {
        // An empty line is no command: ignore it.
        this.#lineTotal = 0;
        return;
      }
      this.#firstLine = Buffer.from(line.subarray(0, 128));
      this.#literalLimit = this.#limits.literalLimit(line);
    }
    const marker = line.length > 0 && line[line.length - 1] === 0x7d ? LITERAL_MARKER.exec(line.subarray(-24).toString('latin1')) : null;
    if (!marker) {
      this.#parts.push(line);
      const data = this.#parts.length === 1 ? Buffer.from(this.#parts[0]!) : Buffer.concat(this.#parts);
      this.#emit({ kind: 'command', data });
      return;
    }
    const size = Number(marker[1]);
    const synchronising = marker[2] === undefined;
    if (!Number.isSafeInteger(size) || this.#literalTotal + size > this.#literalLimit) {
      // A synchronising literal is refused before the client sends it; a non-synchronising one is
      // on its way and cannot be told apart from the commands after it.
      if (synchronising) this.#emit({ kind: 'error', tag: this.#tag(), status: 'NO', code: 'TOOBIG', text: 'Literal too big', fatal: false });
      else this.#emit({ kind: 'error', tag: this.#tag(), status: 'BAD', code: 'TOOBIG', text: 'Non-synchronising literal too big', fatal: true });
      return;
    }
    this.#parts.push(line, CRLF);
    this.#literalTotal += size;
    this.#literalRemaining = size;
    if (synchronising) this.#continuation();
  }

  #endOfLongLine(): void {
    const marker = LITERAL_MARKER.exec(this.#discardTail.toString('latin1').replace(/\r$/, ''));
    // After a non-synchronising literal announcement the client sends the literal anyway:
    // nothing after it can be framed reliably.
    this.#fail('Command line too long', marker !== null && marker[2] !== undefined);
  }

  #fail(text: string, fatal: boolean): void {
    if (this.#mode === 'line') this.#emit({ kind: 'too-long', fatal });
    else this.#emit({ kind: 'error', tag: this.#tag(), status: 'BAD', text, fatal });
  }

  /** The tag of the command being read, when it has a valid one; else "*". */
  #tag(): string {
    return tagOf(this.#firstLine ?? (this.#line.length > 0 ? Buffer.concat(this.#line) : Buffer.alloc(0)));
  }
}

const CRLF = Buffer.from('\r\n');

/** The tag at the start of a command line, or "*" when it has none that is valid. */
export function tagOf(line: Buffer): string {
  const space = line.indexOf(0x20);
  const tag = line.subarray(0, space < 0 ? Math.min(line.length, 64) : space).toString('latin1');
  return isValidTag(tag) ? tag : '*';
}

/** tag = 1*<any ASTRING-CHAR except "+"> (RFC 3501). */
export function isValidTag(tag: string): boolean {
  return tag.length > 0 && tag.length <= 64 && /^[\x21\x23\x24\x26\x27\x2c-\x5b\x5d-\x7a\x7c-\x7e]+$/.test(tag);
}
