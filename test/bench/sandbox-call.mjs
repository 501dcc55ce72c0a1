#!/usr/bin/env node
// Per-call overhead of a sandboxed tap against the same tap in-process, through the real Pipeline
// (guard, tapable, timings included in both), so the difference is what the sandbox adds: copying
// session and transaction in as JSON, the round trip to the plugin's worker thread (postMessage
// both ways, the host's timer that would stop a runaway call), copying the verdict out.
//
//   npx tsc -b core && node test/bench/sandbox-call.mjs
//
// Environment:
//   BENCH_CALLS    timed calls per variant (default 20000)
//   BENCH_WARMUP   untimed calls first, so V8 has compiled the path (default 2000)
//   BENCH_STRICT=1 exit 1 when a sandboxed call costs 150 µs or more (the target)
//
// It prints µs per call for: trusted (in-process), sandboxed with a sync tap, sandboxed with an
// async tap (resolved within the call), and the ratio sandboxed/trusted; and, for reference, a
// bare postMessage round trip to an echo worker, the floor of any call to another thread. The tap rejects senders
// from one domain and the calls alternate a refused and an accepted sender, so both paths run.
// Not part of `npm test`: the numbers depend on the machine.

import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import pino from 'pino';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const dist = (p) => pathToFileURL(path.join(ROOT, 'core', 'dist', p)).href;
const { Pipeline } = await import(dist('pipeline/pipeline.js'));
const { loadSandboxedPlugin } = await import(dist('plugin-host/sandbox/index.js'));
const { MapResults, reject, definePlugin } = await import('@postern/sdk');

const CALLS = Number(process.env.BENCH_CALLS ?? 20000);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 2000);
const TARGET_US = 150;

const SYNC_SOURCE = `
const { definePlugin, reject } = require('@postern/sdk');
module.exports = definePlugin({
  name: 'bench',
  setup(api) {
    api.tap('mailFrom', (session, tx) => (tx.mailFrom.domain === 'spam.test' ? reject('Sender refused', { code: 550, enhanced: '5.7.1' }) : undefined));
  },
});`;
const ASYNC_SOURCE = SYNC_SOURCE.replace('(session, tx) =>', 'async (session, tx) =>');

const owner = { plugin: 'bench', timeoutMs: 5000, failOpen: false };
const silent = pino({ level: 'silent' });

const session = {
  id: 'c1', protocol: 'smtp', listener: 'mx', remoteAddress: '192.0.2.10', remotePort: 40000,
  localAddress: '127.0.0.1', localPort: 2525, secure: false, helo: 'client.example.test', user: undefined,
  trusted: false, results: new MapResults(),
};
function tx(domain) {
  return {
    id: 'Q1', mailFrom: { address: `someone@${domain}`, domain, params: {} },
    recipients: [], results: new MapResults(), message: undefined, addHeader() {}, addedHeaders: [],
  };
}
const txs = [tx('spam.test'), tx('example.test')];

async function measure(pipeline) {
  for (let i = 0; i < WARMUP; i++) await pipeline.decide('mailFrom', session, txs[i & 1]);
  const started = process.hrtime.bigint();
  for (let i = 0; i < CALLS; i++) await pipeline.decide('mailFrom', session, txs[i & 1]);
  return Number(process.hrtime.bigint() - started) / 1000 / CALLS;
}

async function trusted() {
  const pipeline = new Pipeline(silent);
  const def = definePlugin({
    name: 'bench',
    setup(api) {
      api.tap('mailFrom', (_s, t) => (t.mailFrom.domain === 'spam.test' ? reject('Sender refused', { code: 550, enhanced: '5.7.1' }) : undefined));
    },
  });
  await def.setup(pipeline.apiFor(owner, {}, silent, 'mx.test'));
  return measure(pipeline);
}

async function sandboxed(source) {
  const pipeline = new Pipeline(silent);
  const plugin = await loadSandboxedPlugin(source, 'bench.cjs', {}, { plugin: 'bench', timeoutMs: 5000 });
  await plugin.setup(pipeline.apiFor(owner, {}, silent, 'mx.test'));
  const us = await measure(pipeline);
  plugin.dispose();
  return us;
}

async function roundTripAlone() {
  const worker = new Worker("require('node:worker_threads').parentPort.on('message', (m) => require('node:worker_threads').parentPort.postMessage(m));", { eval: true });
  let resolve;
  worker.on('message', (m) => resolve(m));
  const call = (m) => new Promise((r) => { resolve = r; worker.postMessage(m); });
  const entry = ['tap', 0, 1, JSON.stringify([['s', session], ['t', txs[0]]]), undefined];
  for (let i = 0; i < WARMUP; i++) await call(entry);
  const started = process.hrtime.bigint();
  for (let i = 0; i < CALLS; i++) await call(entry);
  const us = Number(process.hrtime.bigint() - started) / 1000 / CALLS;
  await worker.terminate();
  return us;
}

const base = await trusted();
const sync = await sandboxed(SYNC_SOURCE);
const async_ = await sandboxed(ASYNC_SOURCE);
const floor = await roundTripAlone();

const row = (name, us) => console.log(`${name.padEnd(28)} ${us.toFixed(1).padStart(8)} µs/call   x${(us / base).toFixed(1)}   +${(us - base).toFixed(1)} µs`);
console.log(`node ${process.version}, ${CALLS} calls per variant (after ${WARMUP} warm-up), pipeline.decide('mailFrom') with one tap`);
console.log(`${'in-process (trusted)'.padEnd(28)} ${base.toFixed(1).padStart(8)} µs/call`);
row('sandboxed, sync tap', sync);
row('sandboxed, async tap', async_);
console.log(`${'(bare worker round trip)'.padEnd(28)} ${floor.toFixed(1).padStart(8)} µs/call`);
console.log(`target: a sandboxed call < ${TARGET_US} µs`);
if (process.env.BENCH_STRICT === '1' && Math.max(sync, async_) >= TARGET_US) process.exit(1);
