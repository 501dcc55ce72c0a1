/**
 * Untrusted plugins in the vm2 sandbox (core/src/plugin-host/sandbox): a well-behaved one decides by
 * its rule through the real Pipeline; escape attempts get nothing; a runaway loop (before or after
 * an await) is stopped and the next call works; capabilities exist only when granted, and the
 * net grant lets through exactly the listed host:port. Each plugin runs in a worker thread of its
 * own: one that runs out of memory dies alone, and workers are released with their plugin. Plugin
 * sources are the CommonJS a bundler would produce (ESM is accepted too).
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { runInNewContext } from 'node:vm';
import pino from 'pino';
import * as sdk from '@postern/sdk';
import { formatAuthResult, MapResults, type AuthResult, type PluginApi, type SessionView, type TransactionView, type Verdict } from '@postern/sdk';
import { ErrorCode, isPosternError } from '../core/src/errors.js';
import { Pipeline, type TapOwner } from '../core/src/pipeline/pipeline.js';
import { applyEffects } from '../core/src/plugin-host/sandbox/hook-snapshot.js';
import { cleanupList, startDns } from './support/index.js';
import {
  createSandboxResolver,
  effectiveGrants,
  loadSandboxedPlugin,
  MemoryKvStore,
  sandboxSdkHelper,
  type SandboxDnsResolver,
  type SandboxedPlugin,
  type SandboxGrants,
  type SandboxOptions,
} from '../core/src/plugin-host/sandbox/index.js';

const silent = pino({ level: 'silent' });

function session(): SessionView {
  return {
    id: 'c1',
    protocol: 'smtp',
    listener: 'mx',
    remoteAddress: '192.0.2.10',
    remotePort: 40000,
    localAddress: '127.0.0.1',
    localPort: 2525,
    secure: false,
    helo: 'client.example.test',
    user: undefined,
    trusted: false,
    results: new MapResults(),
  };
}

type TestTx = Omit<TransactionView, 'message'> & { message: Buffer | undefined; addedHeaders: Array<readonly [string, string]> };

function tx(domain: string, message?: string): TestTx {
  const added: Array<readonly [string, string]> = [];
  const authResults: AuthResult[] = [];
  return {
    id: 'Q1',
    mailFrom: { address: `someone@${domain}`, domain, params: {} },
    recipients: [{ address: 'ann@example.test', domain: 'example.test', params: {} }],
    results: new MapResults(),
    message: message === undefined ? undefined : Buffer.from(message),
    addHeader(name: string, value: string) {
      added.push([name, value]);
    },
    addedHeaders: added,
    authResults,
    addAuthResult(result: AuthResult) {
      formatAuthResult(result);
      authResults.push(result);
    },
    replaceMessage(this: TestTx, replacement: Buffer) {
      this.message = replacement;
    },
  };
}

/** A Pipeline with one sandboxed plugin set up on it, its taps guarded with `timeoutMs`. */
async function pipelineWith(source: string, name: string, grants: SandboxGrants = {}, options: Partial<SandboxOptions> & { pluginOptions?: Record<string, unknown> } = {}) {
  const timeoutMs = options.timeoutMs ?? 5000;
  const plugin = await loadSandboxedPlugin(source, `${name}.cjs`, grants, { plugin: name, timeoutMs, ...options });
  const pipeline = new Pipeline(silent);
  const owner: TapOwner = { plugin: name, timeoutMs, failOpen: false };
  await plugin.setup(pipeline.apiFor(owner, { ...plugin.defaults, ...options.pluginOptions }, silent, 'mx.example.test'));
  return { plugin, pipeline };
}

/** Set a plugin up on a bare api that hands back its host taps, to look at what they throw. */
async function hostTaps(plugin: SandboxedPlugin, log: PluginApi['log'] = silent) {
  const taps = new Map<string, (...args: unknown[]) => unknown>();
  const shutdown: Array<() => void | Promise<void>> = [];
  await plugin.setup({
    name: plugin.name,
    options: Object.freeze({ ...plugin.defaults }),
    log,
    hostname: 'mx.example.test',
    tap: (hook, fn) => void taps.set(hook, fn as (...args: unknown[]) => unknown),
    onShutdown: (fn) => void shutdown.push(fn),
  });
  return { taps, shutdown };
}

const BLOCK_SPAM = `
const { definePlugin, reject, Stage } = require('@postern/sdk');
module.exports = definePlugin({
  name: 'block-spam',
  defaults: { domains: ['spam.test'] },
  validate(options) {
    return Array.isArray(options.domains) ? [] : ['domains: must be a list of domains'];
  },
  setup(api) {
    api.tap('mailFrom', (session, tx) =>
      api.options.domains.includes(tx.mailFrom.domain)
        ? reject('Sender refused', { code: 550, enhanced: '5.7.1', reason: 'listed' })
        : undefined,
      { stage: Stage.ACCESS });
  },
});`;

describe('a well-behaved sandboxed plugin', () => {
  test('rejects a sender by its rule through the Pipeline, and lets others through', async () => {
    const { plugin, pipeline } = await pipelineWith(BLOCK_SPAM, 'block-spam');
    assert.deepEqual(plugin.defaults, { domains: ['spam.test'] });
    const verdict = await pipeline.decide('mailFrom', session(), tx('spam.test'));
    assert.deepEqual(verdict, { action: 'reject', code: 550, enhanced: '5.7.1', message: 'Sender refused', reason: 'listed', by: 'block-spam' });
    assert.equal(await pipeline.decide('mailFrom', session(), tx('example.test')), undefined);
    await pipeline.shutdown();
  });

  test('its validate runs in the sandbox and its options come from the host', async () => {
    const plugin = await loadSandboxedPlugin(BLOCK_SPAM, 'block-spam.cjs', {}, { plugin: 'block-spam' });
    assert.deepEqual(await plugin.validate?.({ domains: 'spam.test' }), ['domains: must be a list of domains']);
    assert.deepEqual(await plugin.validate?.({ domains: [] }), []);
    plugin.dispose();
    const { pipeline } = await pipelineWith(BLOCK_SPAM, 'block-spam', {}, { pluginOptions: { domains: ['other.test'] } });
    assert.equal(await pipeline.decide('mailFrom', session(), tx('spam.test')), undefined);
    assert.equal((await pipeline.decide('mailFrom', session(), tx('other.test')))?.action, 'reject');
  });

  test('an ES module with an async tap works the same (it is compiled to CommonJS, async lowered)', async () => {
    const esm = `import { definePlugin, tempfail } from '@postern/sdk';
      export default definePlugin({
        name: 'esm-plugin',
        setup(api) {
          api.tap('rcptTo', async (session, tx, rcpt) => {
            const seen = await Promise.all([Promise.resolve(rcpt.address), new Promise((r) => r(tx.recipients.length))]);
            return seen[0] === 'bob@example.test' ? tempfail('later', { code: 450, enhanced: '4.2.0' }) : undefined;
          });
        },
      });`;
    const { pipeline } = await pipelineWith(esm, 'esm-plugin');
    const rcpt = { address: 'bob@example.test', domain: 'example.test', params: {} };
    assert.deepEqual(await pipeline.decide('rcptTo', session(), tx('a.test'), rcpt), { action: 'tempfail', code: 450, enhanced: '4.2.0', message: 'later', by: 'esm-plugin' });
  });

  test("the sandbox's own Promise behaves like the native one (order of reactions included)", async () => {
    const scenario = `async function scenario() {
      const log = [];
      const p1 = Promise.resolve(1);
      const p2 = new Promise((r) => r(2));
      const thenable = { then(res) { log.push('thenable'); res(3); } };
      p1.then((v) => log.push('p1 ' + v));
      Promise.resolve().then(() => log.push('a')).then(() => log.push('b'));
      Promise.resolve().then(() => log.push('c'));
      const all = await Promise.all([p1, p2, thenable, 4]);
      const settled = await Promise.allSettled([Promise.reject(new Error('x')), 5]);
      const race = await Promise.race([new Promise(() => {}), Promise.resolve('fast')]);
      const any = await Promise.any([Promise.reject(1), Promise.resolve('any')]);
      let aggregate;
      try { await Promise.any([Promise.reject(1)]); } catch (e) { aggregate = e.constructor.name + ':' + e.errors.length; }
      const fin = [];
      const kept = await Promise.resolve(6).finally(() => fin.push('fin'));
      let rejected;
      try { await Promise.reject(new Error('boom')); } catch (e) { rejected = e.message; }
      for await (const x of (async function* () { yield 7; yield 8; })()) log.push('gen ' + x);
      let resolve;
      const promise = new Promise((r) => { resolve = r; });
      setTimeoutLike(resolve);
      log.push('resolved ' + (await promise));
      return JSON.stringify({ log, all, settled: settled.map((s) => s.status), race, any, aggregate, fin, kept, rejected });
    }
    function setTimeoutLike(fn) { Promise.resolve().then(() => fn('later')); }`;
    // The same compiled code, run natively in the host, is the reference.
    const { transformSync } = await import('esbuild');
    const { SANDBOX_BUILD_OPTIONS } = await import('../core/src/plugin-host/sandbox/index.js');
    const compiled = transformSync(`${scenario}\nmodule.exports = scenario;`, { ...SANDBOX_BUILD_OPTIONS, supported: { ...SANDBOX_BUILD_OPTIONS.supported }, loader: 'js' }).code;
    const module = { exports: undefined as unknown as () => Promise<string> };
    new Function('module', 'exports', compiled)(module, {});
    const expected = await module.exports();

    const source = `${scenario}
      module.exports = { name: 'promises', setup(api) { api.tap('connect', async () => ({ action: 'reject', reason: await scenario() })); } };`;
    const { pipeline } = await pipelineWith(source, 'promises');
    const verdict = await pipeline.decide('connect', session());
    assert.deepEqual(JSON.parse(verdict!.reason!), JSON.parse(expected));
  });

  test('sees frozen copies, a Buffer copy of the message, and writes only its own results and headers', async () => {
    const source = `
      const { definePlugin, quarantine } = require('@postern/sdk');
      module.exports = definePlugin({
        name: 'content',
        setup(api) {
          api.tap('data', (session, tx) => {
            const frozen = Object.isFrozen(session) && Object.isFrozen(tx.mailFrom);
            tx.message[0] = 0x78; // a copy: the host's message does not change
            let foreign;
            try { tx.results.set('spf', { result: 'pass' }); } catch (e) { foreign = e.code; }
            tx.results.set('content', { score: 7, sawSpf: tx.results.get('spf') });
            session.results.set('content.seen', true);
            tx.addHeader('X-Content-Score', '7');
            const text = tx.message.toString('latin1');
            return quarantine({ reason: JSON.stringify({ frozen, foreign, isBuffer: Buffer.isBuffer(tx.message), text, headers: tx.addedHeaders.length }) });
          });
        },
      });`;
    const { pipeline } = await pipelineWith(source, 'content');
    const s = session();
    const t = tx('example.test', 'Subject: hi\r\n\r\nbody\r\n');
    t.results.set('spf', { result: 'fail' });
    const verdict = await pipeline.decide('data', s, t);
    assert.equal(verdict?.action, 'quarantine');
    const seen = JSON.parse(verdict!.reason!);
    assert.deepEqual(seen, { frozen: true, foreign: ErrorCode.PLUGIN_SANDBOX_DENIED, isBuffer: true, text: 'xubject: hi\r\n\r\nbody\r\n', headers: 1 });
    assert.equal(t.message!.toString(), 'Subject: hi\r\n\r\nbody\r\n');
    assert.deepEqual(t.results.get('content'), { score: 7, sawSpf: { result: 'fail' } });
    assert.deepEqual(t.results.get('spf'), { result: 'fail' });
    assert.equal(s.results.get('content.seen'), true);
    assert.deepEqual(t.addedHeaders, [['X-Content-Score', '7']]);
  });

  test('setup may await before tapping; tapping after setup is refused; onShutdown runs at shutdown', async () => {
    const kv = new MemoryKvStore();
    const source = `
      const { definePlugin, reject } = require('@postern/sdk');
      module.exports = definePlugin({
        name: 'later',
        async setup(api) {
          await api.kv.set('phase', 'setup');
          api.onShutdown(async () => { await api.kv.set('phase', 'shut down'); });
          api.tap('helo', (session, hostname) => {
            let late;
            try { api.tap('connect', () => undefined); } catch (e) { late = e.code; }
            return reject('no', { reason: JSON.stringify({ hostname, late }) });
          });
        },
      });`;
    const { pipeline } = await pipelineWith(source, 'later', { kv: true }, { kv });
    assert.equal(await kv.get('later', 'phase'), '"setup"');
    const verdict = await pipeline.decide('helo', session(), 'client.example.test');
    assert.deepEqual(JSON.parse(verdict!.reason!), { hostname: 'client.example.test', late: ErrorCode.PLUGIN_SANDBOX_DENIED });
    await pipeline.shutdown();
    assert.equal(await kv.get('later', 'phase'), '"shut down"');
  });

  test('the host refuses forged writes even if the sandbox runtime is subverted', () => {
    const t = tx('example.test');
    const refused = applyEffects('data', [session(), t], [['t', 'spf', '{"result":"pass"}'], ['h', 'Bad Name', 'x'], ['t', 'mine', '1']], 'mine', 1024);
    assert.equal(refused.length, 2);
    assert.equal(t.results.has('spf'), false);
    assert.equal(t.results.get('mine'), 1);
    assert.deepEqual(applyEffects('mailFrom', [session(), t], [['h', 'X-A', 'b']], 'mine', 1024).length, 1, 'headers only in the data hook');
    const badAuth = applyEffects('mailFrom', [session(), t], [['a', 'spf', '{"method":"spf","result":"pass; dkim=pass"}'], ['a', 'spf', '{"method":"spf","result":"pass"}']], 'mine', 1024);
    assert.equal(badAuth.length, 1, 'an auth result that would break the header is refused');
    assert.deepEqual(t.authResults, [{ method: 'spf', result: 'pass' }]);
    assert.equal(applyEffects('mailFrom', [session(), t], [['m', 'message', 'x']], 'mine', 1024).length, 1, 'the message is replaced only in the data hook');
    assert.equal(applyEffects('data', [session(), t], [['m', 'message', 'x'.repeat(1025)]], 'mine', 1024).length, 1, 'nor past the limit');
    assert.deepEqual(applyEffects('data', [session(), t], [['m', 'message', 'Subject: new\r\n\r\nnew\r\n']], 'mine', 1024), []);
    assert.equal(t.message?.toString(), 'Subject: new\r\n\r\nnew\r\n');
  });

  test('the stub @postern/sdk helpers build the same verdicts as the sdk', () => {
    const cases: Array<[keyof typeof sdk, unknown[]]> = [
      ['accept', []],
      ['accept', [{ reason: 'ok' }]],
      ['reject', ['no', { code: 550, enhanced: '5.7.1' }]],
      ['reject', []],
      ['tempfail', ['later', { code: 451 }]],
      ['disconnect', ['bye']],
      ['quarantine', [{ folder: 'Junk' }]],
      ['discard', [{ reason: 'backscatter' }]],
    ];
    for (const [name, args] of cases) {
      const fromSdk = (sdk[name] as (...a: unknown[]) => Verdict)(...args);
      assert.deepEqual(sandboxSdkHelper(name, args), JSON.parse(JSON.stringify(fromSdk)), `${name}(${JSON.stringify(args)})`);
    }
  });
});

describe('escape attempts get nothing', () => {
  // Each probe returns "blocked: ..." unless it reached something with process/fs powers.
  const PROBES = `
    function outcome(value) {
      if (value && (typeof value === 'object' || typeof value === 'function') && (value.env || value.pid || value.readFileSync || value.mainModule)) return 'GOT IT';
      return 'blocked: ' + (value === undefined ? 'undefined' : typeof value);
    }
    function attempt(fn) {
      try { return outcome(fn()); } catch (e) { return 'blocked: ' + (e && e.name); }
    }
    function functionFromHostPrototypes(start) {
      // Walk the prototype chain of a host-backed object up to whatever calls itself Function.
      for (let p = start; p; p = Object.getPrototypeOf(p)) {
        const ctor = Object.getOwnPropertyDescriptor(p, 'constructor');
        if (ctor && typeof ctor.value === 'function') {
          const F = ctor.value.constructor;
          if (typeof F === 'function') return F('return process')();
        }
      }
      return undefined;
    }
    function probes(self, hostObject) {
      return {
        thisConstructor: attempt(() => self.constructor.constructor('return process')()),
        requireFs: attempt(() => require('fs')),
        requireNodeFs: attempt(() => require('node:fs')),
        processEnv: attempt(() => process.env),
        globalProcess: attempt(() => globalThis.process),
        functionCtor: attempt(() => Function('return process')()),
        evalProcess: attempt(() => eval('process')),
        generatorCtor: attempt(() => Object.getPrototypeOf(function* () {}).constructor('return process')().next().value),
        bufferCtor: attempt(() => Buffer.constructor('return process')()),
        bufferFromCtor: attempt(() => Buffer.from.constructor('return process')()),
        hostProtoWalk: attempt(() => functionFromHostPrototypes(hostObject)),
        hostObjectCtor: attempt(() => hostObject.constructor.constructor('return process')()),
        // Whatever "Function" a host object leads to is this realm's own (with eval off), never the host's.
        wasm: (() => {
          try { new WebAssembly.Module(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0])); return 'GOT a wasm module'; } catch (e) { return 'blocked: ' + e.name; }
        })(),
        timers: ['setTimeout', 'setInterval', 'setImmediate', 'queueMicrotask'].every((n) => typeof globalThis[n] === 'undefined') ? 'blocked: no timers' : 'GOT a timer',
        nativePromise: (() => {
          try { globalThis.Promise.resolve(1).then(() => {}); return 'GOT native promise reactions'; } catch (e) { return 'blocked: ' + e.name; }
        })(),
        sameFunction: (() => {
          const found = [Buffer.constructor, Buffer.from.constructor, hostObject.constructor.constructor];
          for (let p = hostObject; p; p = Object.getPrototypeOf(p)) {
            const d = Object.getOwnPropertyDescriptor(p, 'constructor');
            if (d && typeof d.value === 'function') found.push(d.value.constructor);
          }
          return found.every((F) => F === Function) ? 'blocked: same Function' : 'GOT a foreign Function';
        })(),
        errorStackFrames: attempt(() => {
          Error.prepareStackTrace = (_, frames) => frames;
          const frames = new Error().stack;
          Error.prepareStackTrace = undefined;
          for (const f of Array.isArray(frames) ? frames : []) {
            const t = f.getThis && f.getThis();
            if (t && t.process) return t.process;
            const fn = f.getFunction && f.getFunction();
            if (fn) return fn.constructor('return process')();
          }
          return undefined;
        }),
      };
    }`;

  const ESCAPER = `
    const { definePlugin, reject } = require('@postern/sdk');
    ${PROBES}
    const atLoad = probes(this, Buffer.from('x'));
    let atSetup;
    module.exports = definePlugin({
      name: 'escaper',
      setup(api) {
        atSetup = probes(api, api.log);
        api.tap('data', async (session, tx) => {
          const inTap = probes(tx, tx.message);
          let dynamicImport;
          try { dynamicImport = outcome(await import('fs')); } catch (e) { dynamicImport = 'blocked: ' + (e && e.code); }
          const capabilities = { net: typeof api.net, dns: typeof api.dns, kv: typeof api.kv };
          return reject('no', { reason: JSON.stringify({ atLoad, atSetup, inTap, dynamicImport, capabilities }) });
        });
      },
    });`;

  test('process, require, fs, import() and host Function stay out of reach at load, in setup and in a tap', async () => {
    const { pipeline } = await pipelineWith(ESCAPER, 'escaper');
    const verdict = await pipeline.decide('data', session(), tx('example.test', 'Subject: x\r\n\r\nx\r\n'));
    assert.equal(verdict?.action, 'reject', JSON.stringify(verdict));
    const report = JSON.parse(verdict!.reason!) as Record<string, unknown>;
    const flat: Array<[string, string]> = [];
    for (const phase of ['atLoad', 'atSetup', 'inTap'] as const) {
      for (const [name, result] of Object.entries(report[phase] as Record<string, string>)) flat.push([`${phase}.${name}`, result]);
    }
    flat.push(['dynamicImport', report.dynamicImport as string]);
    assert.ok(flat.length >= 49, `all probes ran (${flat.length})`);
    for (const [name, result] of flat) assert.match(result, /^blocked/, `${name}: ${result}`);
    assert.equal(report.dynamicImport, 'blocked: MODULE_NOT_FOUND');
    assert.deepEqual(report.capabilities, { net: 'undefined', dns: 'undefined', kv: 'undefined' }, 'no capability without a grant');
  });

  test('(control) the same probe does reach process in a plain node:vm context', () => {
    assert.equal(runInNewContext(`${PROBES}; attempt(() => this.constructor.constructor('return process')())`), 'GOT IT');
  });

  test('a module that needs a Node built-in does not load', async () => {
    const source = `const fs = require('fs'); module.exports = { name: 'needs-fs', setup() {} };`;
    await assert.rejects(loadSandboxedPlugin(source, 'needs-fs.cjs', {}, { plugin: 'needs-fs' }), (err: unknown) => {
      assert.ok(isPosternError(err, ErrorCode.PLUGIN_LOAD_FAILED));
      assert.match(err.message, /MODULE_NOT_FOUND/);
      return true;
    });
  });

  test('a sandboxed plugin cannot tap deliver (it would hold the live Delivery)', async () => {
    const source = `module.exports = { name: 'router', setup(api) { api.tap('deliver', () => {}); } };`;
    const plugin = await loadSandboxedPlugin(source, 'router.cjs', {}, { plugin: 'router' });
    await assert.rejects(hostTaps(plugin), (err: unknown) => isPosternError(err, ErrorCode.PLUGIN_LOAD_FAILED) && /cannot tap deliver/.test(err.message));
  });
});

describe('runaway code is stopped', () => {
  const RUNAWAY = `
    const { definePlugin, reject } = require('@postern/sdk');
    module.exports = definePlugin({
      name: 'runaway',
      setup(api) {
        api.tap('mailFrom', (session, tx) => {
          const d = tx.mailFrom.domain;
          if (d === 'loop.test') { while (true) {} }
          if (d === 'await-loop.test') return (async () => { await null; for (;;) {} })();
          if (d === 'hang.test') return new Promise(() => {});
          if (d === 'spam.test') return reject('Sender refused');
          return undefined;
        }, { timeoutMs: 60000 }); // asks for more time than the admin gave: it does not get it
      },
    });`;

  test('an infinite synchronous loop in a tap becomes 451 4.3.0 well under a second, and the next call works', async () => {
    const { pipeline } = await pipelineWith(RUNAWAY, 'runaway', {}, { timeoutMs: 200 });
    const started = Date.now();
    const verdict = await pipeline.decide('mailFrom', session(), tx('loop.test'));
    const ms = Date.now() - started;
    assert.equal(verdict?.action, 'tempfail');
    assert.equal(verdict?.code, 451);
    assert.equal(verdict?.enhanced, '4.3.0');
    assert.ok(ms < 1000, `stopped after ${ms} ms`);
    assert.equal((await pipeline.decide('mailFrom', session(), tx('spam.test')))?.action, 'reject');
    assert.equal(await pipeline.decide('mailFrom', session(), tx('example.test')), undefined);
  });

  test('a loop after an await is stopped too (async code runs inside the watchdog)', async () => {
    const { pipeline } = await pipelineWith(RUNAWAY, 'runaway', {}, { timeoutMs: 200 });
    const started = Date.now();
    const verdict = await pipeline.decide('mailFrom', session(), tx('await-loop.test'));
    assert.equal(verdict?.enhanced, '4.3.0');
    assert.ok(Date.now() - started < 1000);
    assert.equal((await pipeline.decide('mailFrom', session(), tx('spam.test')))?.action, 'reject');
  });

  test('the stop is a PLUGIN_SANDBOX_TIMEOUT error', async () => {
    const plugin = await loadSandboxedPlugin(RUNAWAY, 'runaway.cjs', {}, { plugin: 'runaway', timeoutMs: 100 });
    const { taps } = await hostTaps(plugin);
    await assert.rejects(async () => taps.get('mailFrom')!(session(), tx('loop.test')), (err: unknown) => isPosternError(err, ErrorCode.PLUGIN_SANDBOX_TIMEOUT));
    plugin.dispose();
  });

  test('an async tap that never resolves hits the guard timeout, and the next call works', async () => {
    const { pipeline } = await pipelineWith(RUNAWAY, 'runaway', {}, { timeoutMs: 200 });
    const started = Date.now();
    const verdict = await pipeline.decide('mailFrom', session(), tx('hang.test'));
    assert.equal(verdict?.code, 451);
    assert.equal(verdict?.reason, `runaway: ${ErrorCode.PLUGIN_TAP_TIMEOUT}`);
    assert.ok(Date.now() - started < 1000);
    assert.equal((await pipeline.decide('mailFrom', session(), tx('spam.test')))?.action, 'reject');
  });

  test('a module whose top level never ends does not load', async () => {
    await assert.rejects(
      loadSandboxedPlugin('for (;;) {}', 'spin.cjs', {}, { plugin: 'spin', timeoutMs: 100 }),
      (err: unknown) => isPosternError(err, ErrorCode.PLUGIN_SANDBOX_TIMEOUT),
    );
  });
});

describe('capabilities, only when granted', () => {
  let granted: Server;
  let other: Server;
  let grantedPort = 0;
  let otherPort = 0;
  let otherConnections = 0;

  before(async () => {
    granted = createServer((socket) => {
      socket.on('data', (chunk) => {
        if (chunk.toString().includes('ping')) socket.end('pong\n');
      });
    });
    other = createServer((socket) => {
      otherConnections++;
      socket.end('you should not see this\n');
    });
    const listen = (server: Server) => new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)));
    grantedPort = await listen(granted);
    otherPort = await listen(other);
  });

  after(() => {
    granted.close();
    other.close();
  });

  test('net.connect reaches the granted host:port and is refused anywhere else', async () => {
    const source = `
      const { definePlugin, reject } = require('@postern/sdk');
      module.exports = definePlugin({
        name: 'netter',
        setup(api) {
          api.tap('mailFrom', async () => {
            const socket = await api.net.connect('127.0.0.1', ${grantedPort});
            await socket.write('ping\\n');
            let reply = '';
            for (let chunk = await socket.read(); chunk !== null; chunk = await socket.read()) reply += chunk.toString();
            socket.close();
            const refused = {};
            for (const [host, port] of [['127.0.0.1', ${otherPort}], ['localhost', ${grantedPort}], ['example.com', 25]]) {
              try { await api.net.connect(host, port); refused[host + ':' + port] = 'connected'; } catch (e) { refused[host + ':' + port] = e.code; }
            }
            return reject('no', { reason: JSON.stringify({ reply, refused }) });
          });
        },
      });`;
    const { pipeline, plugin } = await pipelineWith(source, 'netter', { net: [`127.0.0.1:${grantedPort}`] });
    const verdict = await pipeline.decide('mailFrom', session(), tx('example.test'));
    assert.equal(verdict?.action, 'reject', JSON.stringify(verdict));
    const { reply, refused } = JSON.parse(verdict!.reason!);
    assert.equal(reply, 'pong\n');
    assert.deepEqual(refused, {
      [`127.0.0.1:${otherPort}`]: ErrorCode.PLUGIN_SANDBOX_DENIED,
      [`localhost:${grantedPort}`]: ErrorCode.PLUGIN_SANDBOX_DENIED,
      'example.com:25': ErrorCode.PLUGIN_SANDBOX_DENIED,
    });
    assert.equal(otherConnections, 0, 'the host that was not granted saw no connection');
    plugin.dispose();
  });

  test('dns resolves through the host resolver', async () => {
    const asked: string[] = [];
    const resolver: SandboxDnsResolver = {
      resolve4: async (name) => (asked.push(`A ${name}`), name === '2.0.0.127.rbl.test' ? ['127.0.0.2'] : Promise.reject(Object.assign(new Error('queryA ENOTFOUND'), { code: 'ENOTFOUND' }))),
      resolveMx: async (name) => (asked.push(`MX ${name}`), [{ exchange: 'mx.example.test', priority: 10 }]),
      resolveTxt: async () => [['v=spf1 -all']],
      resolvePtr: async () => ['host.example.test'],
    };
    const source = `
      const { definePlugin, reject } = require('@postern/sdk');
      module.exports = definePlugin({
        name: 'rbl',
        setup(api) {
          api.tap('connect', async (session) => {
            const reversed = session.remoteAddress.split('.').reverse().join('.');
            const mx = await api.dns.resolveMx('example.test');
            let missing;
            try { await api.dns.resolve4('nothing.test'); } catch (e) { missing = e.code; }
            const listed = await api.dns.resolve4('2.0.0.127.rbl.test');
            return reject('listed', { reason: JSON.stringify({ reversed, mx, missing, listed }) });
          });
        },
      });`;
    const { pipeline } = await pipelineWith(source, 'rbl', { dns: true }, { dns: { resolver } });
    const verdict = await pipeline.decide('connect', session());
    assert.deepEqual(JSON.parse(verdict!.reason!), { reversed: '10.2.0.192', mx: [{ exchange: 'mx.example.test', priority: 10 }], missing: 'ENOTFOUND', listed: ['127.0.0.2'] });
    assert.deepEqual(asked, ['MX example.test', 'A nothing.test', 'A 2.0.0.127.rbl.test']);
  });

  test('dns gives AAAA records and TTLs, from a real dnsmasq', async () => {
    const cleanup = cleanupList();
    try {
      const dns = await startDns(cleanup, { a: [{ name: 'mx.six.test', address: '192.0.2.25' }], aaaa: [{ name: 'mx.six.test', address: '2001:db8::25' }] }, { localTtl: 300 });
      const source = `
        const { definePlugin, reject } = require('@postern/sdk');
        module.exports = definePlugin({
          name: 'six',
          setup(api) {
            api.tap('connect', async () => {
              const v6 = await api.dns.resolve6('mx.six.test');
              const v6ttl = await api.dns.resolve6('mx.six.test', { ttl: true });
              const v4ttl = await api.dns.resolve4('mx.six.test', { ttl: true });
              return reject('seen', { reason: JSON.stringify({ v6, v6ttl, v4ttl }) });
            });
          },
        });`;
      const resolver = createSandboxResolver({ servers: [dns.server], timeoutMs: 2000 });
      const { pipeline } = await pipelineWith(source, 'six', { dns: true }, { dns: { resolver } });
      const verdict = await pipeline.decide('connect', session());
      assert.equal(verdict?.action, 'reject', verdict?.reason);
      assert.deepEqual(JSON.parse(verdict!.reason!), {
        v6: ['2001:db8::25'],
        v6ttl: [{ address: '2001:db8::25', ttl: 300 }],
        v4ttl: [{ address: '192.0.2.25', ttl: 300 }],
      });
    } finally {
      await cleanup.run();
    }
  });

  test('kv is namespaced by the host-given plugin name', async () => {
    const kv = new MemoryKvStore();
    await kv.set('other-plugin', 'secret', '"theirs"');
    const source = `
      const { definePlugin, tempfail } = require('@postern/sdk');
      module.exports = definePlugin({
        name: 'greylist',
        setup(api) {
          api.tap('rcptTo', async (session, tx, rcpt) => {
            const key = session.remoteAddress + '/' + tx.mailFrom.address + '/' + rcpt.address;
            const seen = await api.kv.get(key);
            const secret = await api.kv.get('secret');
            if (seen) return undefined;
            await api.kv.set(key, { first: 1 }, { ttlMs: 60000 });
            return tempfail('Greylisted', { code: 451, enhanced: '4.7.1', reason: JSON.stringify({ secret }) });
          });
        },
      });`;
    const { pipeline } = await pipelineWith(source, 'greylist', { kv: true }, { kv });
    const rcpt = { address: 'ann@example.test', domain: 'example.test', params: {} };
    const first = await pipeline.decide('rcptTo', session(), tx('example.test'), rcpt);
    assert.equal(first?.enhanced, '4.7.1');
    assert.deepEqual(JSON.parse(first!.reason!), {}, 'another namespace is invisible');
    assert.equal(await kv.get('greylist', '192.0.2.10/someone@example.test/ann@example.test'), '{"first":1}');
    assert.equal(await pipeline.decide('rcptTo', session(), tx('example.test'), rcpt), undefined);
  });

  test('log reaches the plugin logger only with the log grant', async () => {
    const source = `
      module.exports = { name: 'talker', setup(api) { api.log.info({ answer: 42 }, 'hello from the sandbox'); api.tap('connect', () => undefined); } };`;
    for (const grant of [true, false]) {
      const lines: Array<Record<string, unknown>> = [];
      const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
      const plugin = await loadSandboxedPlugin(source, 'talker.cjs', { log: grant }, { plugin: 'talker' });
      await hostTaps(plugin, log);
      plugin.dispose();
      await new Promise((resolve) => setImmediate(resolve));
      if (grant) assert.deepEqual(lines.map((l) => [l.answer, l.msg]), [[42, 'hello from the sandbox']]);
      else assert.deepEqual(lines, []);
    }
  });

  test('grants are what the manifest asks for AND the admin granted; bad grants are refused', async () => {
    assert.deepEqual(effectiveGrants({ dns: true, kv: true, net: ['a.test:25', '[::1]:2525'] }, { dns: true, net: ['A.test:25', '[::1]:2525', 'b.test:25'] }), {
      dns: true,
      kv: false,
      log: false,
      net: ['a.test:25', '[::1]:2525'],
    });
    for (const bad of [{ net: ['a.test'] }, { net: ['a.test:70000'] }, { fs: 'rw' }, { shell: true }, { dns: 'yes' }]) {
      await assert.rejects(loadSandboxedPlugin(BLOCK_SPAM, 'x.cjs', bad as SandboxGrants, { plugin: 'block-spam' }), (err: unknown) => isPosternError(err, ErrorCode.PLUGIN_GRANTS_INVALID), JSON.stringify(bad));
    }
  });
});

describe('load errors name the plugin', () => {
  test('a syntax error, a missing plugin, a wrong name', async () => {
    const cases: Array<[string, RegExp]> = [
      ['module.exports = { name: "x", setup( {', /x\.cjs:1:/],
      ['module.exports = 42;', /does not export a plugin/],
      ['module.exports = { name: "someone-else", setup() {} };', /names itself "someone-else"/],
      ['throw new Error("top-level boom");', /top-level boom/],
    ];
    for (const [source, message] of cases) {
      await assert.rejects(loadSandboxedPlugin(source, 'x.cjs', {}, { plugin: 'x' }), (err: unknown) => {
        assert.ok(isPosternError(err, ErrorCode.PLUGIN_LOAD_FAILED), String(err));
        assert.match(err.message, message);
        assert.match(err.message, /^plugin x: /);
        return true;
      });
    }
  });

  test('setup that throws fails the setup (the loader reports it)', async () => {
    const plugin = await loadSandboxedPlugin('module.exports = { name: "x", async setup() { await null; throw new Error("no config"); } };', 'x.cjs', {}, { plugin: 'x' });
    await assert.rejects(hostTaps(plugin), (err: unknown) => isPosternError(err, ErrorCode.PLUGIN_LOAD_FAILED) && /^plugin x: setup threw: .*no config/.test(err.message));
  });
});

describe('the worker thread', () => {
  /** Threads of this process (Linux), to see that workers are released. */
  const threads = () => readdirSync('/proc/self/task').length;

  const HOG = `
    const { definePlugin, reject } = require('@postern/sdk');
    let calls = 0;
    module.exports = definePlugin({
      name: 'hog',
      setup(api) {
        api.tap('mailFrom', (session, tx) => {
          calls++;
          const keep = [];
          if (tx.mailFrom.domain === 'heap.test') for (;;) keep.push(new Array(100000).fill(calls));
          if (tx.mailFrom.domain === 'buffers.test') { globalThis.hoard = globalThis.hoard || []; for (let i = 0; i < 12; i++) globalThis.hoard.push(new Uint8Array(4 * 1024 * 1024).fill(1)); return undefined; }
          return reject('calls ' + calls);
        });
      },
    });`;

  function capture() {
    const lines: Array<Record<string, unknown>> = [];
    return { lines, log: pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) }) };
  }

  test('a plugin that allocates without bound dies alone: 451 4.3.0, logged, and a new worker serves the next call', async () => {
    const { lines, log } = capture();
    const plugin = await loadSandboxedPlugin(HOG, 'hog.cjs', {}, { plugin: 'hog', timeoutMs: 10_000, memoryMb: 32 });
    const pipeline = new Pipeline(log);
    await plugin.setup(pipeline.apiFor({ plugin: 'hog', timeoutMs: 10_000, failOpen: false }, {}, log, 'mx.example.test'));
    assert.equal((await pipeline.decide('mailFrom', session(), tx('a.test')))?.message, 'calls 1');
    const verdict = await pipeline.decide('mailFrom', session(), tx('heap.test'));
    assert.equal(verdict?.code, 451);
    assert.equal(verdict?.enhanced, '4.3.0');
    assert.equal(verdict?.reason, `hog: ${ErrorCode.PLUGIN_TAP_FAILED}`);
    const crash = lines.find((l) => l.code === ErrorCode.PLUGIN_SANDBOX_CRASHED);
    assert.ok(crash, 'the crash is logged with its code');
    assert.match(String(crash.msg), /ran out of memory/);
    // A fresh worker: the plugin's module state starts over, and the server was never at risk.
    assert.equal((await pipeline.decide('mailFrom', session(), tx('a.test')))?.message, 'calls 1');
    await pipeline.shutdown();
  });

  test('ArrayBuffers piled up across calls (outside the heap limit) stop the worker too', async () => {
    const { lines, log } = capture();
    const plugin = await loadSandboxedPlugin(HOG, 'hog.cjs', {}, { plugin: 'hog', timeoutMs: 10_000, memoryMb: 32 });
    const pipeline = new Pipeline(log);
    await plugin.setup(pipeline.apiFor({ plugin: 'hog', timeoutMs: 10_000, failOpen: false }, {}, log, 'mx.example.test'));
    // 48 MB per call, kept: over the 64 MB allowance (twice the heap limit) after the second call.
    for (let i = 0; i < 2; i++) assert.equal(await pipeline.decide('mailFrom', session(), tx('buffers.test')), undefined);
    const started = Date.now();
    while (!lines.some((l) => l.code === ErrorCode.PLUGIN_SANDBOX_CRASHED) && Date.now() - started < 10_000) await new Promise((r) => setTimeout(r, 100));
    assert.match(String(lines.find((l) => l.code === ErrorCode.PLUGIN_SANDBOX_CRASHED)?.msg), /held more than 64 MB of Buffers/);
    assert.equal((await pipeline.decide('mailFrom', session(), tx('a.test')))?.message, 'calls 1');
    await pipeline.shutdown();
  });

  test('a message over 4 MiB is refused as tx.message (vm2 would need ~64 bytes of heap per byte to hand it over)', async () => {
    const source = `
      module.exports = { name: 'reader', setup(api) {
        api.tap('data', (session, tx) => {
          try { return { action: 'reject', reason: 'read ' + tx.message.length }; } catch (e) { return { action: 'reject', reason: e.code }; }
        });
      } };`;
    const { pipeline } = await pipelineWith(source, 'reader');
    assert.equal((await pipeline.decide('data', session(), tx('a.test', 'x'.repeat(1000))))?.reason, 'read 1000');
    assert.equal((await pipeline.decide('data', session(), tx('a.test', 'x'.repeat(4 * 1024 * 1024 + 1))))?.reason, ErrorCode.PLUGIN_SANDBOX_LIMIT);
    await pipeline.shutdown();
  });

  test('after a runaway loop, calls waiting behind it fail, and the new worker serves the next call', async () => {
    const source = `
      const { definePlugin, reject } = require('@postern/sdk');
      module.exports = definePlugin({
        name: 'queued',
        setup(api) {
          api.tap('mailFrom', (session, tx) => {
            if (tx.mailFrom.domain === 'loop.test') for (;;) {}
            return reject('fine');
          });
        },
      });`;
    const plugin = await loadSandboxedPlugin(source, 'queued.cjs', {}, { plugin: 'queued', timeoutMs: 200 });
    const { taps } = await hostTaps(plugin);
    const tap = taps.get('mailFrom')!;
    const looping = Promise.resolve().then(() => tap(session(), tx('loop.test')));
    const behind = Promise.resolve().then(() => tap(session(), tx('a.test')));
    await assert.rejects(looping, (err: unknown) => isPosternError(err, ErrorCode.PLUGIN_SANDBOX_TIMEOUT));
    await assert.rejects(behind, (err: unknown) => isPosternError(err, ErrorCode.PLUGIN_SANDBOX_CRASHED));
    assert.deepEqual(await tap(session(), tx('a.test')), { action: 'reject', message: 'fine' });
    plugin.dispose();
  });

  test('a plugin whose workers keep dying is restarted with a delay, and calls fail fast meanwhile', async () => {
    const source = `
      const { definePlugin, reject } = require('@postern/sdk');
      module.exports = definePlugin({
        name: 'looper',
        setup(api) { api.tap('mailFrom', (session, tx) => { if (tx.mailFrom.domain === 'loop.test') for (;;) {} return reject('fine'); }); },
      });`;
    const plugin = await loadSandboxedPlugin(source, 'looper.cjs', {}, { plugin: 'looper', timeoutMs: 100 });
    const { taps } = await hostTaps(plugin);
    const tap = async (domain: string) => taps.get('mailFrom')!(session(), tx(domain));
    for (let i = 0; i < 4; i++) await assert.rejects(tap('loop.test'), (err: unknown) => isPosternError(err, ErrorCode.PLUGIN_SANDBOX_TIMEOUT));
    // The fourth death within a minute: the next worker starts in 1 s; until then calls fail at once.
    const started = Date.now();
    await assert.rejects(tap('a.test'), (err: unknown) => isPosternError(err, ErrorCode.PLUGIN_SANDBOX_CRASHED));
    assert.ok(Date.now() - started < 50, 'failed fast');
    await new Promise((r) => setTimeout(r, 1100));
    assert.deepEqual(await tap('a.test'), { action: 'reject', message: 'fine' });
    plugin.dispose();
  });

  test('disposing, or shutting the pipeline down, releases the worker threads', async () => {
    const before = threads();
    for (let i = 0; i < 5; i++) {
      const { plugin, pipeline } = await pipelineWith(BLOCK_SPAM, 'block-spam');
      assert.equal((await pipeline.decide('mailFrom', session(), tx('spam.test')))?.action, 'reject');
      if (i % 2 === 0) await pipeline.shutdown();
      else plugin.dispose();
    }
    // Threads end asynchronously after terminate(); the spare goes when no plugin is left.
    const started = Date.now();
    while (threads() > before && Date.now() - started < 5000) await new Promise((r) => setTimeout(r, 50));
    assert.ok(threads() <= before, `threads: ${before} before, ${threads()} after`);
  });
});
