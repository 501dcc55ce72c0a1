/**
 * The input side of the POP3 wire: bytes in, command lines out. POP3 commands are lines ending in
 * CRLF (RFC 1939 §3); a bare LF is accepted too, as most servers do. Nothing here knows a command.
 */

/** One thing the client sent: a complete line (without its line ending), or a line that was too long. */
export type LineEvent = { kind: 'line'; line: string } | { kind: 'too-long' };

/**
 * Splits a byte stream into lines of at most `maxLineBytes` (line ending excluded). A longer line
 * is reported once, as soon as it passes the limit, and its bytes are dropped up to its end, so a
 * client cannot make the server buffer an endless line.
 */
export class LineReader {
  readonly #max: number;
  #parts: Buffer[] = [];
  #length = 0;
  /** Inside a line that was already reported too long: drop bytes until its LF. */
  #discarding = false;

  constructor(maxLineBytes: number) {
    this.#max = maxLineBytes;
  }

  /** Feed a chunk; returns the events it completed, in order. */
  push(chunk: Buffer): LineEvent[] {
    const events: LineEvent[] = [];
    let start = 0;
    while (start < chunk.length) {
      const lf = chunk.indexOf(0x0a, start);
      if (lf < 0) {
        if (!this.#discarding) this.#append(chunk.subarray(start), events);
        break;
      }
      if (this.#discarding) this.#discarding = false;
      else {
        this.#parts.push(chunk.subarray(start, lf));
        this.#length += lf - start;
        const line = this.#take();
        events.push(line.length > this.#max ? { kind: 'too-long' } : { kind: 'line', line: line.toString('utf8') });
      }
      start = lf + 1;
    }
    return events;
  }

  /** Buffer part of a line; past the limit (+1 for a CR that may end it) report it and drop the rest. */
  #append(bytes: Buffer, events: LineEvent[]): void {
    this.#parts.push(bytes);
    this.#length += bytes.length;
    if (this.#length > this.#max + 1) {
      this.#reset();
      this.#discarding = true;
      events.push({ kind: 'too-long' });
    }
  }

  /** Forget anything buffered (STLS: nothing sent before the TLS handshake may be used after it). */
  clear(): void {
    this.#reset();
    this.#discarding = false;
  }

  /** The buffered line without its CR. */
  #take(): Buffer {
    let bytes = this.#parts.length === 1 ? this.#parts[0]! : Buffer.concat(this.#parts, this.#length);
    if (bytes.length > 0 && bytes[bytes.length - 1] === 0x0d) bytes = bytes.subarray(0, bytes.length - 1);
    this.#reset();
    return bytes;
  }

  #reset(): void {
    this.#parts = [];
    this.#length = 0;
  }
}
