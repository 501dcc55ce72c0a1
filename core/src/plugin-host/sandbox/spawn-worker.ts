import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import { CELLS_BYTES, SLOT_BYTES, type WorkerData } from './sandbox-protocol.js';

/** Buffer/ArrayBuffer bytes a worker may keep, as a multiple of its heap limit (sandbox-worker.ts). */
export const EXTERNAL_MEMORY_FACTOR = 2;

/** The worker entry: compiled JavaScript beside this file, or the TypeScript source (tests run core from source). */
const WORKER_URL = new URL(import.meta.url.endsWith('.ts') ? './sandbox-worker.ts' : './sandbox-worker.js', import.meta.url);

let sourceBundle: string | undefined;

/**
 * From source, a worker cannot start from the .ts entry (not even under `node --import tsx`), and
 * registering tsx inside every worker costs ~0.5 s per boot: bundle the entry once with esbuild
 * instead. vm2 stays a real module (it reads its own files), loaded relative to the entry's URL.
 */
function workerFromSource(): string {
  if (sourceBundle === undefined) {
    const require = createRequire(import.meta.url);
    const { buildSync } = require('esbuild') as typeof import('esbuild');
    sourceBundle = buildSync({
      entryPoints: [fileURLToPath(WORKER_URL)],
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: 'node20',
      define: { 'import.meta.url': JSON.stringify(WORKER_URL.href) },
      write: false,
      logLevel: 'silent',
    }).outputFiles[0]!.text;
  }
  return sourceBundle;
}

/** A started worker and the host's ends of its ports and shared buffer. */
export interface Channel {
  worker: Worker;
  requests: MessagePort;
  replies: MessagePort;
  shared: SharedArrayBuffer;
}

/** Start a sandbox worker with a heap limit of `memoryMb`; it says READY once booted. */
export function spawnWorker(memoryMb: number): Channel {
  const toWorker = new MessageChannel();
  const toHost = new MessageChannel();
  const shared = new SharedArrayBuffer(CELLS_BYTES + SLOT_BYTES);
  const workerData: WorkerData = {
    requests: toWorker.port2,
    replies: toHost.port1,
    shared,
    externalLimitBytes: memoryMb * EXTERNAL_MEMORY_FACTOR * 1024 * 1024,
  };
  const options = {
    workerData,
    transferList: [toWorker.port2, toHost.port1],
    resourceLimits: { maxOldGenerationSizeMb: memoryMb },
    // Nothing of the parent's command line (--inspect, --import ...) or environment (secrets, for
    // code that got out of vm2): the worker needs none of it.
    execArgv: [],
    env: {},
  };
  const worker = WORKER_URL.pathname.endsWith('.ts') ? new Worker(workerFromSource(), { ...options, eval: true }) : new Worker(WORKER_URL, options);
  return { worker, requests: toWorker.port1, replies: toHost.port2, shared };
}
