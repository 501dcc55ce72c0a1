import { receiveMessageOnPort, type MessagePort, type Worker } from 'node:worker_threads';
import { ErrorCode, PosternError, type ErrorCodeValue } from '../../errors.js';
import {
  CELLS_BYTES,
  EXIT_EXTERNAL_MEMORY,
  READY,
  REPLIES,
  REPLY_ANSWER,
  REPLY_COMPILE_ERROR,
  REQUESTS,
  SLOT,
  SLOT_BYTES,
  SLOT_FILLED,
  SLOT_IDLE,
  SLOT_LENGTH,
  SLOT_STATUS,
  SLOT_WAITING,
  WAKE,
  type Entry,
  type Op,
  type Reply,
} from './sandbox-protocol.js';
import { EXTERNAL_MEMORY_FACTOR, spawnWorker } from './spawn-worker.js';

/*
 * One sandbox worker thread, seen from the host: it sends entries and times them. The worker
 * answers entries one at a time and in order, so only the oldest unanswered entry can be running;
 * one timer, armed for that entry's limit when it reaches the head of the queue, is the whole
 * watchdog. When it fires, the thread is terminated (V8 stops whatever the sandbox was running,
 * synchronous loop or not); the entry fails with PLUGIN_SANDBOX_TIMEOUT and the entries queued
 * behind it with PLUGIN_SANDBOX_CRASHED. The owner (sandboxed-plugin.ts) starts a new thread.
 */

/** A worker that has not booted by then is given up. */
const BOOT_TIMEOUT_MS = 30_000;
/**
 * How long the host blocks waiting for the reply to an entry sent to an idle worker before it
 * lets the reply come as an event: long enough for a typical tap (tens of µs), short enough that
 * a slow one costs the main thread little (the in-thread sandbox before it blocked for the whole
 * call).
 */
export const SYNC_WAIT_MS = 1;
/** How a call is named in its errors; made once per tap, not per call. */
export interface CallInfo {
  /** "tap mailFrom", "plugin x: setup": the start of every error message of the call. */
  what: string;
  /** The code when the call throws unexpectedly. */
  code: ErrorCodeValue;
  details: Record<string, unknown>;
}

interface InFlight {
  info: CallInfo;
  limitMs: number;
  onAnswer(answer: string | null): void;
  onError(err: PosternError): void;
}

export class SandboxThread {
  readonly memoryMb: number;
  /** Resolves when the worker has booted; rejects if it died first. */
  readonly ready: Promise<void>;
  /** The outbox of every reply, in order, before the entry's own callback. */
  onOps: (ops: Op[]) => void = () => {};
  /** The worker died or was stopped (not by `terminate()`); called once. */
  onDeath: (err: PosternError, stopped: boolean) => void = () => {};
  /** The thread is gone, however it went (for thread-pool.ts); called once, after onDeath. */
  onEnd: () => void = () => {};
  readonly #worker: Worker;
  readonly #requests: MessagePort;
  readonly #replies: MessagePort;
  readonly #signal: Int32Array;
  readonly #slot: Buffer;
  readonly #queue: InFlight[] = [];
  #timer: NodeJS.Timeout | undefined;
  #booted = false;
  #dead = false;
  /** Replies taken from the port so far (READY included), to compare with the REPLIES counter. */
  #received = 0;
  #crash: unknown;
  #failBoot: (err: PosternError) => void = () => {};
  #bootTimer: NodeJS.Timeout;
  #setBooted: () => void = () => {};

  constructor(memoryMb: number) {
    this.memoryMb = memoryMb;
    const channel = spawnWorker(memoryMb);
    this.#worker = channel.worker;
    this.#requests = channel.requests;
    this.#replies = channel.replies;
    this.#signal = new Int32Array(channel.shared, 0, CELLS_BYTES / Int32Array.BYTES_PER_ELEMENT);
    this.#slot = Buffer.from(channel.shared, CELLS_BYTES, SLOT_BYTES);
    this.ready = new Promise<void>((resolve, reject) => {
      this.#setBooted = resolve;
      this.#failBoot = reject;
    });
    this.ready.catch(() => undefined);
    this.#bootTimer = setTimeout(() => this.#die(new PosternError(ErrorCode.PLUGIN_SANDBOX_CRASHED, `the sandbox worker did not start within ${BOOT_TIMEOUT_MS} ms`), true), BOOT_TIMEOUT_MS);
    this.#bootTimer.unref();
    this.#replies.on('message', (message: unknown) => this.#onMessage(message));
    this.#worker.on('error', (err) => {
      this.#crash = err;
    });
    this.#worker.on('exit', (code) => {
      const why = code === EXIT_EXTERNAL_MEMORY
        ? `held more than ${memoryMb * EXTERNAL_MEMORY_FACTOR} MB of Buffers`
        : (this.#crash as { code?: unknown } | undefined)?.code === 'ERR_WORKER_OUT_OF_MEMORY'
          ? `ran out of memory (heap limit ${memoryMb} MB)`
          : this.#crash ? `crashed: ${(this.#crash as Error).message}` : `exited (code ${code})`;
      this.#die(new PosternError(ErrorCode.PLUGIN_SANDBOX_CRASHED, `the sandbox worker ${why}`, { exitCode: code }, { cause: this.#crash }), false);
    });
    // Idle workers do not keep the process alive; an entry in flight does (its timer). After the
    // listeners: adding a 'message' listener refs a port.
    this.#replies.unref();
    this.#worker.unref();
  }

  get dead(): boolean {
    return this.#dead;
  }

  get isBooted(): boolean {
    return this.#booted;
  }

  /** Wait for the boot, keeping the process alive meanwhile (the worker itself is unref'd). */
  async booted(): Promise<void> {
    if (this.#booted) return;
    this.#worker.ref();
    try {
      await this.ready;
    } finally {
      if (!this.#dead) this.#worker.unref();
    }
  }

  /**
   * Send an entry. `onAnswer` gets the runtime's answer (null when it was not text); `onError` a
   * PosternError: PLUGIN_SANDBOX_TIMEOUT ("<what> ran for more than N ms"), `code` when the call
   * threw unexpectedly, PLUGIN_LOAD_FAILED for a compile error, PLUGIN_SANDBOX_CRASHED when the
   * thread died. Exactly one of the two is called: before `send` returns when the worker was idle
   * and answered within SYNC_WAIT_MS, else later from a message event or a timer.
   */
  send(entry: Entry, limitMs: number, info: CallInfo, onAnswer: (answer: string | null) => void, onError: (err: PosternError) => void): void {
    if (this.#dead) {
      onError(new PosternError(ErrorCode.PLUGIN_SANDBOX_CRASHED, `${info.what}: the sandbox worker is gone`, info.details));
      return;
    }
    const call: InFlight = { info, limitMs, onAnswer, onError };
    // Waited for only when nothing else is outstanding: then its reply is the next one.
    const wait = this.#queue.length === 0 && this.#booted;
    this.#queue.push(call);
    const wake = Atomics.load(this.#signal, WAKE);
    if (wait) Atomics.store(this.#signal, SLOT, SLOT_WAITING);
    this.#requests.postMessage(entry);
    Atomics.add(this.#signal, REQUESTS, 1);
    Atomics.notify(this.#signal, REQUESTS);
    if (wait) {
      // No spinning before the wait: it saves a few µs on an idle machine and costs far more when
      // the worker needs the very core the spin would hold.
      Atomics.wait(this.#signal, WAKE, wake, Math.min(SYNC_WAIT_MS, limitMs));
      if (Atomics.compareExchange(this.#signal, SLOT, SLOT_WAITING, SLOT_IDLE) === SLOT_FILLED) this.#takeSlot();
      else this.#drain();
    }
    this.#arm();
  }

  /** Promise form of `send`. */
  request(entry: Entry, limitMs: number, info: CallInfo): Promise<string | null> {
    return new Promise((resolve, reject) => this.send(entry, limitMs, info, resolve, reject));
  }

  /** Stop the worker for good; entries in flight fail. */
  terminate(reason = 'the sandbox was disposed'): void {
    this.#die(new PosternError(ErrorCode.PLUGIN_SANDBOX_CRASHED, reason), true, false);
  }

  /** Take every reply already there, in order. */
  #drain(): void {
    // The counter says how many are there: no call that comes back empty.
    while (this.#received < Atomics.load(this.#signal, REPLIES)) {
      const message = receiveMessageOnPort(this.#replies);
      if (!message) return;
      this.#onMessage(message.message);
    }
  }

  #arm(): void {
    const head = this.#queue[0];
    if (!head || this.#timer) return;
    this.#timer = setTimeout(() => {
      const { what, details } = head.info;
      this.#die(new PosternError(ErrorCode.PLUGIN_SANDBOX_TIMEOUT, `${what} ran for more than ${head.limitMs} ms and was stopped`, details), true);
    }, Math.max(1, Math.ceil(head.limitMs)));
  }

  /** The reply the worker left in the slot (see SLOT in sandbox-protocol.ts). */
  #takeSlot(): void {
    const status = this.#signal[SLOT_STATUS]!;
    const length = this.#signal[SLOT_LENGTH]!;
    const answer = length < 0 ? null : this.#slot.toString('utf8', 0, Math.min(length, SLOT_BYTES));
    Atomics.store(this.#signal, SLOT, SLOT_IDLE);
    this.#onReply([status, answer, 0]);
  }

  #onMessage(message: unknown): void {
    this.#received++;
    this.#onReply(message);
  }

  #onReply(message: unknown): void {
    if (this.#dead) return;
    if (!this.#booted) {
      if (message !== READY) return;
      this.#booted = true;
      clearTimeout(this.#bootTimer);
      this.#setBooted();
      return;
    }
    const head = this.#queue.shift();
    if (this.#timer) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    if (!head || !Array.isArray(message)) return;
    // The next entry is already running in the worker: its time starts now.
    if (this.#queue.length > 0) this.#arm();
    const [status, answer, ops] = message as Reply;
    if (Array.isArray(ops) && ops.length > 0) this.onOps(ops);
    const { what, code, details } = head.info;
    if (status === REPLY_ANSWER) head.onAnswer(typeof answer === 'string' ? answer : null);
    else if (status === REPLY_COMPILE_ERROR) head.onError(new PosternError(ErrorCode.PLUGIN_LOAD_FAILED, `${what}: ${String(answer)}`, details));
    else head.onError(new PosternError(code, `${what}: the sandbox failed unexpectedly`, details));
  }

  /**
   * The end of the thread: `first` (the running entry's error) goes to the head of the queue,
   * the others learn that the sandbox went away under them. `stopped`: the host terminated it.
   */
  #die(first: PosternError, stopped: boolean, notify = true): void {
    if (this.#dead) return;
    this.#dead = true;
    this.#failBoot(first);
    clearTimeout(this.#bootTimer);
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (stopped) void this.#worker.terminate();
    this.#requests.close();
    this.#replies.close();
    const queued = this.#queue.splice(0);
    queued.forEach((call, i) => {
      const { what, details } = call.info;
      if (i === 0 && first.code === ErrorCode.PLUGIN_SANDBOX_TIMEOUT) call.onError(first);
      else if (i === 0) call.onError(new PosternError(ErrorCode.PLUGIN_SANDBOX_CRASHED, `${what}: ${first.message}`, details, { cause: first }));
      else call.onError(new PosternError(ErrorCode.PLUGIN_SANDBOX_CRASHED, `${what}: the sandbox worker went away before this call ran (${first.message})`, details, { cause: first }));
    });
    if (notify) this.onDeath(first, stopped);
    this.onEnd();
  }
}
