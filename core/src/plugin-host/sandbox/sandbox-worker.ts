import { createRequire } from 'node:module';
import { receiveMessageOnPort, workerData } from 'node:worker_threads';
import type { VM as VMClass, VMOptions, VMScript as VMScriptClass } from 'vm2';
import {
  BUFFER_LIMIT,
  CELLS_BYTES,
  EXIT_EXTERNAL_MEMORY,
  READY,
  REPLIES,
  REPLY_ANSWER,
  REPLY_COMPILE_ERROR,
  REPLY_FAILED,
  REQUESTS,
  SLOT,
  SLOT_BYTES,
  SLOT_FILLED,
  SLOT_LENGTH,
  SLOT_STATUS,
  SLOT_WAITING,
  WAKE,
  type Entry,
  type Reply,
  type WorkerData,
} from './sandbox-protocol.js';
import { RUNTIME_SOURCE, type SandboxRuntime } from './sandbox-runtime.js';
import { createWorkerBindings, type WorkerBindings } from './worker-bindings.js';

/*
 * The entry of a sandbox worker thread: one vm2 VM running one plugin (sandbox-thread.ts starts it).
 * It boots before it knows its plugin (vm2 loaded, the runtime compiled in a fresh VM), says
 * READY, then serves entries one at a time: each runs to completion and is answered with one
 * Reply. There is no watchdog in here: the host terminates the whole thread when an entry does
 * not answer in time, which stops a synchronous loop and a loop after an await alike.
 *
 * The thread never returns to its event loop: it sleeps in Atomics.wait until the host signals an
 * entry (see sandbox-protocol.ts), which wakes it faster than a message event would. Nothing in
 * here needs the loop (no timers, no I/O); `worker.terminate()` interrupts the wait.
 */

const { requests, replies, shared, externalLimitBytes } = workerData as WorkerData;
const signal = new Int32Array(shared, 0, CELLS_BYTES / Int32Array.BYTES_PER_ELEMENT);
const slot = Buffer.from(shared, CELLS_BYTES, SLOT_BYTES);
/** How often the Buffer memory is checked, at the latest. */
const MEMORY_CHECK_MS = 1000;

// vm2's VM and VMScript only, from their own files: vm2's main module also loads NodeVM, its
// resolvers and file system layer, which would make every worker boot ~30 ms longer. (vm2 has no
// `exports` map; the pinned version in core/package.json keeps these paths.)
const load = createRequire(import.meta.url);
const { VM } = load('vm2/lib/vm.js') as { VM: typeof VMClass };
const { VMScript } = load('vm2/lib/script.js') as { VMScript: typeof VMScriptClass };

// No `timeout`: that is the per-call watchdog thread this design exists to avoid.
// bufferAllocLimit exists in vm2 3.12 but not in its typings.
const vmOptions: VMOptions & { bufferAllocLimit: number } = { allowAsync: false, eval: false, wasm: false, bufferAllocLimit: BUFFER_LIMIT };
const vm = new VM(vmOptions);
// The runtime first, so it captures the built-ins before plugin code can replace them.
const factory = vm.run(new VMScript(RUNTIME_SOURCE, { filename: 'postern-sandbox-runtime.js' })) as (host: unknown, configJson: string) => SandboxRuntime;

let rt: SandboxRuntime | undefined;
let bindings: WorkerBindings | undefined;
let moduleFn: unknown;
let filename = '';

function run(entry: Entry, rt: SandboxRuntime, bindings: WorkerBindings): unknown {
  switch (entry[0]) {
    case 'load':
      return rt.load(moduleFn, filename);
    case 'validate':
      return rt.validate(entry[1]);
    case 'setup': {
      bindings.beginSetup(entry[1]);
      const answer = rt.setup(entry[1], entry[2], entry[3]);
      if (answer !== 'P') bindings.endSetup();
      return answer;
    }
    case 'tap':
      return rt.callTap(entry[1], entry[2], entry[3], entry[4]);
    case 'shutdown':
      return rt.shutdown(entry[1], entry[2]);
    case 'cb':
      bindings.answer(entry[1], entry[2], entry[3], entry[4]);
      return '';
    case 'init':
      return 'Ealready started';
  }
}

function init(entry: Extract<Entry, readonly ['init', ...unknown[]]>): Reply {
  const [, configJson, script, file] = entry;
  bindings = createWorkerBindings(configJson);
  const created = factory(bindings.host, configJson);
  // Read the functions once, now: the object is the runtime's (frozen, data properties only).
  rt = { load: created.load, validate: created.validate, setup: created.setup, callTap: created.callTap, shutdown: created.shutdown, sdkHelper: created.sdkHelper };
  filename = file;
  try {
    moduleFn = vm.run(new VMScript(script, { filename: file }));
  } catch (err) {
    // vm2 compile errors (syntax, "Async not available") are this realm's errors: safe to read.
    return [REPLY_COMPILE_ERROR, String((err as Error).message), 0];
  }
  return [REPLY_ANSWER, 'R{}', bindings.take()];
}

function handle(entry: Entry): Reply {
  try {
    if (entry[0] === 'init' && !rt) return init(entry);
    if (!rt || !bindings) return [REPLY_FAILED, null, 0];
    const answer = run(entry, rt, bindings);
    return [REPLY_ANSWER, typeof answer === 'string' ? answer : null, bindings.take()];
  } catch {
    // Not inspected: it may be a proxy of a sandbox object, whose getters would run sandbox code.
    return [REPLY_FAILED, null, bindings?.take() ?? 0];
  }
}

function reply(message: Reply | typeof READY): void {
  if (!tryTheSlot(message)) {
    replies.postMessage(message);
    Atomics.add(signal, REPLIES, 1);
  }
  Atomics.add(signal, WAKE, 1);
  Atomics.notify(signal, WAKE);
}

/** Hand a small reply without ops to a host that waits for it (see SLOT); false if it is not. */
function tryTheSlot(message: Reply | typeof READY): boolean {
  if (message === READY || message[2] !== 0 || Atomics.load(signal, SLOT) !== SLOT_WAITING) return false;
  const answer = message[1];
  if (answer !== null && answer.length * 3 > SLOT_BYTES) return false;
  // Written before the swap, so a host that sees SLOT_FILLED sees them; unread if the swap fails.
  signal[SLOT_STATUS] = message[0];
  signal[SLOT_LENGTH] = answer === null ? -1 : slot.write(answer, 0, 'utf8');
  return Atomics.compareExchange(signal, SLOT, SLOT_WAITING, SLOT_FILLED) === SLOT_WAITING;
}

// Buffers and ArrayBuffers live outside the V8 heap, so `resourceLimits` does not bound them. A
// plugin that keeps piling them up across calls is stopped here (twice in a row over the limit, so
// garbage that the next GC would free does not count); within one call only its time limit stops it.
let over = 0;
let nextCheck = Date.now() + MEMORY_CHECK_MS;
function checkMemory(): void {
  const now = Date.now();
  if (now < nextCheck) return;
  nextCheck = now + MEMORY_CHECK_MS;
  over = process.memoryUsage().arrayBuffers > externalLimitBytes ? over + 1 : 0;
  if (over >= 2) process.exit(EXIT_EXTERNAL_MEMORY);
}

reply(READY);
// The host bumps REQUESTS after posting, so while it is ahead of `handled` an entry is waiting.
let handled = 0;
for (;;) {
  while (handled < Atomics.load(signal, REQUESTS)) {
    const message = receiveMessageOnPort(requests);
    if (!message) break;
    handled++;
    reply(handle(message.message as Entry));
  }
  checkMemory();
  Atomics.wait(signal, REQUESTS, handled, MEMORY_CHECK_MS);
}
