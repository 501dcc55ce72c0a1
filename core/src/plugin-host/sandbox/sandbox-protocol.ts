import type { MessagePort } from 'node:worker_threads';

/*
 * What crosses between the host (main thread) and a sandbox worker (sandbox-worker.ts), both ways.
 *
 * Two MessagePorts carry the data (structured clone of arrays of primitives): entries to the
 * worker, replies from it. A SharedArrayBuffer carries the wake-ups: the host bumps REQUESTS after
 * posting an entry, the worker bumps WAKE after each reply, each with Atomics.notify. The worker
 * sleeps in Atomics.wait (no event loop turn per entry). The host, when the worker was idle, waits
 * up to SYNC_WAIT_MS for the reply before going async: a tap that answers in microseconds is
 * answered synchronously, without an event-loop round trip. While the host waits like that, a
 * small reply without ops comes in the shared buffer's reply slot instead of the port (no
 * structured clone, no port wake-up on either side); see `SLOT`.
 *
 * The host sends entries; the worker answers every entry with exactly one Reply, in order, and
 * sends nothing else after its first READY. Sandbox code runs only while the worker works on an
 * entry, so "the worker has not answered the entry in time" is exactly "sandbox code ran too
 * long": the host's watchdog (sandbox-thread.ts) needs no cooperation from the worker. What the
 * sandbox asks of the host during an entry (register a tap, log, a DNS query...) travels in the
 * Reply's outbox and is done on the host after the entry, outside any sandbox code.
 *
 * Everything the worker sends is treated as untrusted on the host: checked again before use.
 */

/** Int32 cell: entries posted by the host. */
export const REQUESTS = 0;
/** Int32 cell: replies posted to the port by the worker (READY included). */
export const REPLIES = 1;
/** Int32 cell: replies sent by either way; what the host waits on. */
export const WAKE = 2;
/**
 * Int32 cell: the reply slot's state. The host sets SLOT_WAITING before posting an entry it will
 * wait for (only when no other entry is outstanding, so that reply is the next one). The worker
 * writes the reply into the slot, then swaps SLOT_WAITING for SLOT_FILLED; the host, done waiting,
 * swaps SLOT_WAITING for SLOT_IDLE. Whichever swap comes first decides: the slot, or the port.
 */
export const SLOT = 3;
/** Int32 cell: the slot reply's status. */
export const SLOT_STATUS = 4;
/** Int32 cell: the slot reply's answer length in bytes (UTF-8), -1 for null. */
export const SLOT_LENGTH = 5;
export const SLOT_IDLE = 0;
export const SLOT_WAITING = 1;
export const SLOT_FILLED = 2;
/** Bytes of the Int32 cells at the start of the shared buffer; the slot's bytes follow. */
export const CELLS_BYTES = 8 * Int32Array.BYTES_PER_ELEMENT;
/** Bytes of the reply slot: answers up to a third of it (UTF-8 worst case) fit. */
export const SLOT_BYTES = 16 * 1024;

/** Host → worker. `cb` delivers the host's answer to a callback the sandbox gave (DNS, kv, net). */
export type Entry =
  | readonly ['init', configJson: string, script: string, filename: string]
  | readonly ['load']
  | readonly ['validate', optionsJson: string]
  | readonly ['setup', callId: number, optionsJson: string, hostname: string]
  | readonly ['tap', tapId: number, callId: number, argsJson: string, message: string | undefined]
  | readonly ['shutdown', fnId: number, callId: number]
  | readonly ['cb', cbId: number, code: string, message: string, value: string | number | null | undefined];

/** Reply status: the runtime answered (a string; null when it gave something that is not one). */
export const REPLY_ANSWER = 0;
/** Reply status: the call threw unexpectedly (not inspected: it may be a sandbox object). */
export const REPLY_FAILED = 1;
/** Reply status: vm2 could not compile the plugin's script; the answer is its message. */
export const REPLY_COMPILE_ERROR = 2;

/** Worker → host, one per entry. The outbox is 0 when empty (nothing to clone). */
export type Reply = [status: number, answer: string | null, outbox: Op[] | 0];

/** The first message of a worker: it has loaded vm2 and the runtime and waits for 'init'. */
export const READY = 'ready';

/** What the sandbox asked for during one entry, in order. */
export type Op =
  | ['settle', callId: number, answer: string]
  | ['tap', hook: string, tapId: number, stage: number | undefined, timeoutMs: number | undefined]
  | ['shutdown', fnId: number]
  | ['log', level: string, json: string, msg: string | undefined]
  | ['logDropped', count: number]
  | ['dns', cbId: number, type: string, name: string]
  | ['kvGet', cbId: number, key: string]
  | ['kvSet', cbId: number, key: string, json: string, ttlMs: number | undefined]
  | ['kvDelete', cbId: number, key: string]
  | ['netOpen', cbId: number, host: string, port: number]
  | ['netWrite', cbId: number, id: number, latin1: string]
  | ['netRead', cbId: number, id: number]
  | ['netEnd', cbId: number, id: number]
  | ['netClose', id: number];

/** What the worker is started with (`workerData`). */
export interface WorkerData {
  /** Entries come in here. */
  requests: MessagePort;
  /** Replies go out here. */
  replies: MessagePort;
  /** CELLS_BYTES of Int32 cells (REQUESTS, REPLIES, WAKE, SLOT...), then SLOT_BYTES of reply slot. */
  shared: SharedArrayBuffer;
  /** ArrayBuffer/Buffer bytes the worker may hold (outside the V8 heap limit), checked periodically. */
  externalLimitBytes: number;
}

/** Exit code of a worker that stopped itself for holding too much Buffer memory. */
export const EXIT_EXTERNAL_MEMORY = 86;

// ------------------------------------------------------------------ limits, checked on both sides

/** Keys longer than this are refused. */
export const MAX_KV_KEY = 512;
/** kv values (JSON text) longer than this are refused. */
export const MAX_KV_VALUE = 64 * 1024;
/** The record types a sandboxed plugin may ask for (`api.dns`); checked on both sides of the worker. */
export const DNS_QUERY_TYPES = ['A', 'AAAA', 'A+TTL', 'AAAA+TTL', 'MX', 'TXT', 'PTR'] as const;
export type DnsQueryType = (typeof DNS_QUERY_TYPES)[number];

/** DNS queries one plugin may have in flight. */
export const MAX_DNS_IN_FLIGHT = 64;
/** Log records one entry may produce; more are counted and dropped. */
export const MAX_LOG_RECORDS = 1000;
/** Bytes of one log record's object (JSON); a longer one is replaced by a note. */
export const MAX_LOG_BYTES = 16 * 1024;
/** Bytes of one socket write. */
export const MAX_WRITE = 1024 * 1024;
/**
 * Largest Buffer the sandbox may allocate (vm2 `bufferAllocLimit`) or get as `tx.message`. vm2
 * checks every own key of a Buffer that enters the sandbox: ~64 bytes of heap per byte, partly
 * in one V8 builtin that termination cannot interrupt, so a bigger Buffer could overshoot the
 * worker's heap limit far enough to abort the whole process instead of the worker alone.
 */
export const BUFFER_LIMIT = 4 * 1024 * 1024;
