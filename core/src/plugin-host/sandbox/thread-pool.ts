import { SandboxThread } from './sandbox-thread.js';

/*
 * Sandbox threads are started ahead of need, because a boot takes ~150-200 ms of CPU (Node's
 * worker bootstrap, loading vm2, compiling the runtime in a fresh VM): the loader reserves one per
 * sandboxed plugin of a generation so that they boot in parallel, and one booted spare is kept
 * while any sandboxed plugin is alive, so that replacing a stopped or crashed worker does not
 * wait for a boot, which would take longer than a tap's usual time limit. With no sandboxed
 * plugin left, no thread is kept.
 */

/**
 * Heap limit of a sandbox worker (V8 old generation), MB. Sized for vm2, not for the plugin: a
 * Buffer entering the sandbox (tx.message, Buffer.alloc) briefly takes ~64 bytes of heap per byte,
 * so a 4 MiB one (BUFFER_LIMIT) needs ~256 MB on top of the plugin's own data.
 */
export const DEFAULT_MEMORY_MB = 512;

/** Threads handed out and not dead yet. */
const live = new Set<SandboxThread>();
/** Threads started ahead (default memory limit), booted or booting, oldest first. */
const pool: SandboxThread[] = [];
/** Loads announced by reserveThreads and not made yet: the pool holds a thread for each. */
let reserved = 0;

function newThread(memoryMb: number): SandboxThread {
  const thread = new SandboxThread(memoryMb);
  thread.onEnd = () => {
    live.delete(thread);
    // Only ever trims here: a thread that dies while booting must not start the next one.
    if (live.size === 0 && reserved === 0) fillPool();
  };
  return thread;
}

function fillPool(): void {
  for (let i = pool.length - 1; i >= 0; i--) if (pool[i]!.dead) pool.splice(i, 1);
  // One spare beyond the reservations, for a restart, while any sandboxed plugin may need one.
  const want = reserved + (live.size > 0 || reserved > 0 ? 1 : 0);
  while (pool.length < want) pool.push(newThread(DEFAULT_MEMORY_MB));
  while (pool.length > want) pool.pop()!.terminate('not needed');
}

/**
 * A thread for one plugin (an incarnation). A restart (`replacing` a stopped or crashed worker)
 * gets a booted spare, so that the calls waiting for it are served within their time limit; a
 * load gets a thread started ahead by reserveThreads, or a new one.
 */
export function takeThread(memoryMb = DEFAULT_MEMORY_MB, replacing = false): SandboxThread {
  let thread: SandboxThread | undefined;
  if (memoryMb === DEFAULT_MEMORY_MB && (replacing || reserved > 0)) {
    const booted = pool.findIndex((t) => !t.dead && t.isBooted);
    const index = booted >= 0 ? booted : pool.findIndex((t) => !t.dead);
    if (index >= 0) thread = pool.splice(index, 1)[0];
    if (!replacing && reserved > 0) reserved--;
  }
  thread ??= newThread(memoryMb);
  live.add(thread);
  fillPool();
  return thread;
}

/**
 * Start threads for `count` sandboxed plugins about to be loaded, all at once: they boot in
 * parallel (~150-200 ms of CPU each) while the plugins are compiled and loaded one by one. Call
 * the returned function when the loads are done, failed or not: threads not taken are stopped.
 */
export function reserveThreads(count: number): () => void {
  if (count <= 0) return () => {};
  reserved += count;
  fillPool();
  return () => {
    // Each load took its thread and its share of `reserved` already; drop what is left.
    reserved -= Math.min(count, reserved);
    fillPool();
  };
}
