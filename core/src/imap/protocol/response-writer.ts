import type { Duplex } from 'node:stream';

/**
 * Writes responses in large chunks: pieces (strings and Buffers) are collected and written
 * together under one cork, so a FETCH of thousands of messages is a handful of writes rather
 * than one per line; `flush` waits for the socket to drain, which bounds what is held in memory
 * when the client reads slowly.
 */
export class ResponseWriter {
  #socket: Duplex;
  #pieces: Array<string | Buffer> = [];
  // Text is collected in an array and joined once: a string built with += is a rope that is
  // slow to flatten when it is written.
  #text: string[] = [];
  #size = 0;
  /** Bytes held before `add` asks the caller to flush. */
  readonly highWater: number;

  constructor(socket: Duplex, highWater = 256 * 1024) {
    this.#socket = socket;
    this.highWater = highWater;
  }

  setSocket(socket: Duplex): void {
    this.#socket = socket;
  }

  /** Whether enough is waiting that the caller should `flush()` before adding more. */
  get full(): boolean {
    return this.#size >= this.highWater;
  }

  /** Add text (UTF-8 on the wire). */
  text(text: string): void {
    this.#text.push(text);
    this.#size += text.length;
  }

  /** Add a line (CRLF appended). */
  line(text: string): void {
    this.text(`${text}\r\n`);
  }

  /** Add raw bytes (a literal's content). */
  bytes(data: Buffer): void {
    this.#flushText();
    this.#pieces.push(data);
    this.#size += data.length;
  }

  #flushText(): void {
    if (this.#text.length > 0) {
      this.#pieces.push(this.#text.length === 1 ? this.#text[0]! : this.#text.join(''));
      this.#text = [];
    }
  }

  /** Write what is waiting; resolves when the socket can take more (or is gone). */
  async flush(): Promise<void> {
    this.#flushText();
    const pieces = this.#pieces;
    this.#pieces = [];
    this.#size = 0;
    const socket = this.#socket;
    if (pieces.length === 0 || socket.destroyed || !socket.writable) return;
    socket.cork();
    let ok = true;
    for (const piece of pieces) ok = typeof piece === 'string' ? socket.write(piece, 'utf8') : socket.write(piece);
    socket.uncork();
    if (!ok && !socket.destroyed) await waitForDrain(socket);
  }
}

function waitForDrain(socket: Duplex): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      socket.off('drain', done);
      socket.off('close', done);
      socket.off('error', done);
      resolve();
    };
    socket.on('drain', done);
    socket.on('close', done);
    socket.on('error', done);
  });
}
