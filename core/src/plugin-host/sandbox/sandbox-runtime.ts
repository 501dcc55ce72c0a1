import { PROMISE_SOURCE } from './sandbox-promise.js';

/*
 * The part of the sandbox that runs INSIDE the vm2 context, before any plugin code: the
 * `@postern/sdk` stub, the CommonJS `require` stub, the promise implementation, the plugin's `api`
 * and the views of session/transaction it gets. It is plain JavaScript (kept as a string) because it
 * must be compiled in the sandbox's realm, not the host's.
 *
 * It is a convenience layer, not the enforcement: the plugin shares this realm and can tamper with
 * built-ins, so the host checks everything that comes out (strings only, parsed and validated on
 * the host side). Tampering can only break the plugin's own calls.
 *
 * Why its own promises: the VM runs with vm2's `allowAsync: false`, which disables native promise
 * reactions, timers and microtasks in the sandbox. Without them, sandbox code can only run when the
 * host calls in, and every host call goes through the watchdog (run-with-timeout.ts). Async plugin
 * code still works because the source is compiled with async/await lowered to generators (see
 * sandbox-source.ts) and `Promise` inside the module is sandbox-promise.ts, whose job queue is
 * drained at the end of each host call, inside the watchdog. So code after an `await` is bounded by
 * the same timeout as the first synchronous slice.
 *
 * Conventions on the boundary: host functions take and return primitives (strings, numbers) and
 * callbacks; answers to the host are strings: 'R' + JSON (result), 'E' + text (threw/rejected),
 * 'B' + text (not a verdict), 'P' (pending: the host gets settle(callId, answer) later).
 */
export const RUNTIME_SOURCE = String.raw`(function posternSandboxRuntime(host, configJson) {
  'use strict';
  const jsonParse = JSON.parse;
  const jsonStringify = JSON.stringify;
  const apply = Reflect.apply;
  const freeze = Object.freeze;
  const isFrozen = Object.isFrozen;
  const objectKeys = Object.keys;
  const createObject = Object.create;
  const isArray = Array.isArray;
  const ErrorCtor = Error;
  const TypeErrorCtor = TypeError;
  const AggregateErrorCtor = AggregateError;
  const StringCtor = String;
  const NumberIsFinite = Number.isFinite;
  const BufferCtor = Buffer;
  const bufferFrom = Buffer.from;
  const symbolIterator = Symbol.iterator;

  const config = jsonParse(configJson);
  const hostSettle = host.settle;
  const hostRegisterTap = host.registerTap;
  const hostRegisterShutdown = host.registerShutdown;
  const hostLog = host.log;
  const hostDns = host.dns;
  const hostKvGet = host.kvGet;
  const hostKvSet = host.kvSet;
  const hostKvDelete = host.kvDelete;
  const hostNetOpen = host.netOpen;
  const hostNetWrite = host.netWrite;
  const hostNetRead = host.netRead;
  const hostNetEnd = host.netEnd;
  const hostNetClose = host.netClose;

  function deepFreeze(value) {
    if (value !== null && typeof value === 'object' && !isFrozen(value)) {
      freeze(value);
      const keys = objectKeys(value);
      for (let i = 0; i < keys.length; i++) deepFreeze(value[keys[i]]);
    }
    return value;
  }

  function describe(err) {
    try {
      if (err !== null && typeof err === 'object') {
        const name = typeof err.name === 'string' ? err.name : 'Error';
        const message = typeof err.message === 'string' ? err.message : '';
        const code = typeof err.code === 'string' ? ' [' + err.code + ']' : '';
        return (name + ': ' + message + code).slice(0, 2000);
      }
      return ('thrown: ' + StringCtor(err)).slice(0, 2000);
    } catch (e) {
      return 'an unprintable error';
    }
  }

  /** An Error with a code, from a host failure "CODE\nmessage". */
  function failure(text) {
    const at = text.indexOf('\n');
    const err = new ErrorCtor(at === -1 ? text : text.slice(at + 1));
    err.code = at === -1 ? 'EFAIL' : text.slice(0, at);
    return err;
  }

  function codedError(code, message) {
    const err = new ErrorCtor(message);
    err.code = code;
    return err;
  }

  // ---------------------------------------------------------------- promises and their job queue

  ${PROMISE_SOURCE}

  /**
   * Answer the host for a call whose result may be a promise: when it settles while the job queue
   * drains, the answer goes back at once; otherwise the host gets 'P' and settle(callId, answer).
   */
  function answerFor(result, callId, encode) {
    if (!isThenable(result)) {
      drain();
      return encode(result);
    }
    let sync = true;
    let answer;
    const deliver = (text) => {
      if (sync) answer = text;
      else hostSettle(callId, text);
    };
    SandboxPromise.resolve(result).then((value) => deliver(encode(value)), (reason) => deliver('E' + describe(reason)));
    drain();
    sync = false;
    return answer === undefined ? 'P' : answer;
  }

  /** A sandbox callback the host calls later (DNS answer, kv value, socket data). */
  function callback(fn) {
    return function (code, message, value) {
      try {
        fn(code, message, value);
      } finally {
        drain();
      }
    };
  }

  /** A promise for a host operation that answers through a callback (code '' = success). */
  function hostPromise(start, decode) {
    return new SandboxPromise((resolve, reject) => {
      const refused = start(callback((code, message, value) => {
        if (code !== '') reject(codedError(code, message));
        else {
          try {
            resolve(decode(value));
          } catch (e) {
            reject(e);
          }
        }
      }));
      if (refused !== '') reject(failure(refused));
    });
  }

  // ------------------------------------------------------------------------ the @postern/sdk stub

  // Mirrors sdk/src/verdict.ts (a test checks they agree); Stage etc. come from the host's sdk.
  function make(action, message, fields) {
    const verdict = { action, ...fields };
    if (message !== undefined) verdict.message = message;
    return verdict;
  }
  const sdk = freeze({
    __esModule: true,
    accept: (fields) => make('accept', undefined, fields),
    reject: (message, fields) => make('reject', message, fields),
    tempfail: (message, fields) => make('tempfail', message, fields),
    disconnect: (message, fields) => make('disconnect', message, fields),
    quarantine: (fields) => make('quarantine', undefined, fields),
    discard: (fields) => make('discard', undefined, fields),
    definePlugin: (def) => def,
    Stage: deepFreeze(config.sdk.Stage),
    DeliverStage: deepFreeze(config.sdk.DeliverStage),
    POLICY_HOOKS: deepFreeze(config.sdk.POLICY_HOOKS),
    DELIVERY_HOOKS: deepFreeze(config.sdk.DELIVERY_HOOKS),
    EVENT_HOOKS: deepFreeze(config.sdk.EVENT_HOOKS),
  });

  function sandboxRequire(id) {
    if (id === '@postern/sdk') return sdk;
    throw codedError('MODULE_NOT_FOUND', "Cannot find module '" + StringCtor(id) + "': a sandboxed plugin cannot load modules (bundle its dependencies; Node built-ins are not available)");
  }

  // ----------------------------------------------------------------------------- capabilities

  const noop = function () {};
  const log = config.grants.log
    ? freeze({ debug: logAt('debug'), info: logAt('info'), warn: logAt('warn'), error: logAt('error') })
    : freeze({ debug: noop, info: noop, warn: noop, error: noop });

  function logAt(level) {
    return function (obj, msg) {
      let json = '{}';
      if (typeof obj === 'string' && msg === undefined) {
        msg = obj;
      } else {
        try {
          const text = jsonStringify(obj);
          if (typeof text === 'string') json = text;
        } catch (e) {
          json = '{"unserialisable":true}';
        }
      }
      hostLog(level, json, msg === undefined ? undefined : StringCtor(msg));
    };
  }

  function lookup(type) {
    return (name) => hostPromise((cb) => hostDns(type, StringCtor(name), cb), (json) => jsonParse(json));
  }
  const dns = config.grants.dns
    ? freeze({
        resolve4: (name, options) => lookup(options !== null && typeof options === 'object' && options.ttl ? 'A+TTL' : 'A')(name),
        resolve6: (name, options) => lookup(options !== null && typeof options === 'object' && options.ttl ? 'AAAA+TTL' : 'AAAA')(name),
        resolveMx: lookup('MX'),
        resolveTxt: lookup('TXT'),
        resolvePtr: lookup('PTR'),
      })
    : undefined;

  const kv = config.grants.kv
    ? freeze({
        get: (key) => hostPromise((cb) => hostKvGet(StringCtor(key), cb), (json) => (json === undefined || json === null ? undefined : jsonParse(json))),
        set: (key, value, options) => {
          const json = jsonStringify(value);
          if (typeof json !== 'string') return SandboxPromise.reject(new TypeErrorCtor('kv.set: the value must be JSON data'));
          const ttl = options !== null && typeof options === 'object' ? options.ttlMs : undefined;
          return hostPromise((cb) => hostKvSet(StringCtor(key), json, ttl, cb), () => undefined);
        },
        delete: (key) => hostPromise((cb) => hostKvDelete(StringCtor(key), cb), () => undefined),
      })
    : undefined;

  function toLatin1(data) {
    if (typeof data === 'string') return apply(bufferFrom, BufferCtor, [data, 'utf8']).toString('latin1');
    if (data instanceof Uint8Array) return apply(bufferFrom, BufferCtor, [data]).toString('latin1');
    throw new TypeErrorCtor('socket.write: data must be a string or bytes');
  }

  function socketFor(id) {
    return freeze({
      write: (data) => {
        let latin1;
        try {
          latin1 = toLatin1(data);
        } catch (e) {
          return SandboxPromise.reject(e);
        }
        return hostPromise((cb) => hostNetWrite(id, latin1, cb), () => undefined);
      },
      read: () => hostPromise((cb) => hostNetRead(id, cb), (latin1) => (latin1 === null || latin1 === undefined ? null : apply(bufferFrom, BufferCtor, [latin1, 'latin1']))),
      end: () => hostPromise((cb) => hostNetEnd(id, cb), () => undefined),
      close: () => {
        hostNetClose(id);
      },
    });
  }

  const net = config.grants.net
    ? freeze({
        connect: (hostname, port) => hostPromise((cb) => hostNetOpen(StringCtor(hostname), typeof port === 'number' ? port : Number(port), cb), (id) => socketFor(id)),
      })
    : undefined;

  // --------------------------------------------------------------------------- the plugin

  let definition;
  const taps = [];
  const shutdowns = [];

  function buildApi(options, hostname) {
    const api = {
      name: config.name,
      options: deepFreeze(options),
      hostname,
      log,
      tap(hook, fn, tapOptions) {
        if (typeof fn !== 'function') throw new TypeErrorCtor('api.tap(hook, fn): fn must be a function');
        const stage = tapOptions !== null && typeof tapOptions === 'object' ? tapOptions.stage : undefined;
        const timeoutMs = tapOptions !== null && typeof tapOptions === 'object' ? tapOptions.timeoutMs : undefined;
        const id = taps.length;
        taps[id] = fn;
        const refused = hostRegisterTap(StringCtor(hook), id, stage, timeoutMs);
        if (refused !== '') {
          taps[id] = undefined;
          throw failure(refused);
        }
      },
      onShutdown(fn) {
        if (typeof fn !== 'function') throw new TypeErrorCtor('api.onShutdown(fn): fn must be a function');
        const id = shutdowns.length;
        shutdowns[id] = fn;
        const refused = hostRegisterShutdown(id);
        if (refused !== '') throw failure(refused);
      },
    };
    if (dns) api.dns = dns;
    if (kv) api.kv = kv;
    if (net) api.net = net;
    return freeze(api);
  }

  /** Key in a results store this plugin may write: its own name, or "<name>." + anything. */
  function ownKey(key) {
    return key === config.name || key.startsWith(config.name + '.');
  }

  function resultsView(scope, initial, effects) {
    const values = createObject(null);
    const keys = objectKeys(initial);
    for (let i = 0; i < keys.length; i++) values[keys[i]] = deepFreeze(initial[keys[i]]);
    return freeze({
      get: (key) => values[StringCtor(key)],
      has: (key) => StringCtor(key) in values,
      set: (key, value) => {
        key = StringCtor(key);
        if (!ownKey(key)) throw codedError(config.codes.denied, 'results.set: "' + key + '" is not this plugin\'s key (use "' + config.name + '" or "' + config.name + '.<anything>")');
        const json = jsonStringify(value);
        if (typeof json !== 'string') throw new TypeErrorCtor('results.set: the value must be JSON data');
        values[key] = deepFreeze(jsonParse(json));
        effects[effects.length] = [scope, key, json];
      },
      toJSON: () => {
        const out = {};
        for (const key in values) out[key] = values[key];
        return out;
      },
    });
  }

  function sessionView(data, effects) {
    data.results = resultsView('s', data.results, effects);
    return deepFreeze(data);
  }

  function txView(data, message, effects) {
    let messageBuffer;
    const headers = data.addedHeaders;
    for (let i = 0; i < headers.length; i++) freeze(headers[i]);
    const authResults = data.authResults;
    for (let i = 0; i < authResults.length; i++) deepFreeze(authResults[i]);
    const view = {
      id: data.id,
      mailFrom: deepFreeze(data.mailFrom),
      recipients: deepFreeze(data.recipients),
      results: resultsView('t', data.results, effects),
      // Built on first read only: vm2 checks every own key of a Buffer entering the sandbox,
      // which costs ~1.3 µs and ~64 bytes of heap per byte of message (13 ms for 10 KB), and
      // most data taps never read the body. Bigger messages than the limit would take the worker
      // past its heap limit in one step (or past its time limit anyway): refused with an error.
      get message() {
        if (message === undefined) return undefined;
        if (message.length > config.limits.buffer) {
          throw codedError(config.codes.limit, 'tx.message: messages over ' + config.limits.buffer + ' bytes are not handed to sandboxed plugins (this one has ' + message.length + ')');
        }
        if (messageBuffer === undefined) messageBuffer = apply(bufferFrom, BufferCtor, [message, 'latin1']);
        return messageBuffer;
      },
      addHeader(name, value) {
        if (typeof name !== 'string' || typeof value !== 'string') throw new TypeErrorCtor('tx.addHeader(name, value): both must be strings');
        headers[headers.length] = freeze([name, value]);
        effects[effects.length] = ['h', name, value];
      },
      get addedHeaders() {
        return freeze(headers.slice());
      },
      // The host checks the syntax again (formatAuthResult) before it is applied.
      addAuthResult(result) {
        if (result === null || typeof result !== 'object') throw new TypeErrorCtor('tx.addAuthResult(result): result must be an object');
        const copy = { method: StringCtor(result.method), result: StringCtor(result.result) };
        if (result.reason !== undefined) copy.reason = StringCtor(result.reason);
        if (result.props !== null && typeof result.props === 'object') {
          copy.props = {};
          for (const key in result.props) copy.props[StringCtor(key)] = StringCtor(result.props[key]);
        }
        authResults[authResults.length] = deepFreeze(copy);
        effects[effects.length] = ['a', copy.method, jsonStringify(copy)];
      },
      get authResults() {
        return freeze(authResults.slice());
      },
      replaceMessage(buffer) {
        if (!(buffer instanceof Uint8Array)) throw new TypeErrorCtor('tx.replaceMessage(message): message must be a Buffer');
        if (message === undefined) throw new TypeErrorCtor('tx.replaceMessage: only in the data hook');
        if (buffer.length > config.limits.buffer) throw codedError(config.codes.limit, 'tx.replaceMessage: at most ' + config.limits.buffer + ' bytes from a sandboxed plugin');
        message = apply(bufferFrom, BufferCtor, [buffer]).toString('latin1');
        messageBuffer = undefined;
        effects[effects.length] = ['m', 'message', message];
      },
    };
    return freeze(view);
  }

  function buildArgs(encoded, message, effects) {
    const args = [];
    for (let i = 0; i < encoded.length; i++) {
      const kind = encoded[i][0];
      const value = encoded[i][1];
      if (kind === 's') args[i] = sessionView(value, effects);
      else if (kind === 't') args[i] = txView(value, message, effects);
      else if (kind === 'u') args[i] = undefined;
      else args[i] = deepFreeze(value);
    }
    return args;
  }

  function encodeResult(value, effects) {
    if (value === undefined) return effects.length === 0 ? 'R{}' : 'R' + jsonStringify({ fx: effects });
    if (value === null || typeof value !== 'object') return 'B' + (value === null ? 'null' : typeof value);
    try {
      return 'R' + jsonStringify({ v: value, fx: effects });
    } catch (e) {
      return 'B' + describe(e);
    }
  }

  const done = () => 'R{}';

  // ------------------------------------------------------------------- what the host calls

  /** Run the module function (the plugin's CommonJS code) and find its definition. */
  function load(moduleFn, filename) {
    const module = { exports: {} };
    try {
      apply(moduleFn, module.exports, [module.exports, sandboxRequire, module, filename, '/', SandboxPromise]);
    } catch (e) {
      drain();
      return 'E' + describe(e);
    }
    drain();
    let exported = module.exports;
    if (exported !== null && typeof exported === 'object' && exported.default !== undefined && typeof exported.setup !== 'function') exported = exported.default;
    if (exported === null || typeof exported !== 'object' || typeof exported.setup !== 'function') {
      return 'Ethe module does not export a plugin (module.exports = definePlugin({...}) or exports.default)';
    }
    if (typeof exported.name !== 'string') return 'Ethe plugin definition has no name';
    definition = exported;
    try {
      return 'R' + jsonStringify({ name: exported.name, defaults: exported.defaults, hasValidate: typeof exported.validate === 'function' });
    } catch (e) {
      return 'Ethe plugin defaults are not JSON data: ' + describe(e);
    }
  }

  function validate(optionsJson) {
    let out;
    try {
      out = apply(definition.validate, definition, [deepFreeze(jsonParse(optionsJson))]);
    } catch (e) {
      drain();
      return 'E' + describe(e);
    }
    drain();
    if (!isArray(out)) return 'Evalidate() must return an array of strings';
    const list = [];
    for (let i = 0; i < out.length; i++) list[i] = StringCtor(out[i]);
    return 'R' + jsonStringify(list);
  }

  function setup(callId, optionsJson, hostname) {
    let result;
    try {
      result = apply(definition.setup, definition, [buildApi(jsonParse(optionsJson), hostname)]);
    } catch (e) {
      drain();
      return 'E' + describe(e);
    }
    return answerFor(result, callId, done);
  }

  function callTap(tapId, callId, argsJson, message) {
    const tap = taps[tapId];
    if (typeof tap !== 'function') return 'Eno such tap';
    const effects = [];
    let result;
    try {
      result = apply(tap, undefined, buildArgs(jsonParse(argsJson), message, effects));
    } catch (e) {
      drain();
      return 'E' + describe(e);
    }
    return answerFor(result, callId, (value) => encodeResult(value, effects));
  }

  function shutdown(fnId, callId) {
    let result;
    try {
      result = apply(shutdowns[fnId], undefined, []);
    } catch (e) {
      drain();
      return 'E' + describe(e);
    }
    return answerFor(result, callId, done);
  }

  /** Stage a verdict helper from the stub, so the host can check the stub against the sdk. */
  function sdkHelper(name, argsJson) {
    return 'R' + jsonStringify(apply(sdk[name], undefined, jsonParse(argsJson)));
  }

  return freeze({ load, validate, setup, callTap, shutdown, sdkHelper });
})`;

/** The functions of the runtime, as the host sees them (vm2 proxies of sandbox functions). */
export interface SandboxRuntime {
  load(moduleFn: unknown, filename: string): unknown;
  validate(optionsJson: string): unknown;
  setup(callId: number, optionsJson: string, hostname: string): unknown;
  callTap(tapId: number, callId: number, argsJson: string, message: string | undefined): unknown;
  shutdown(fnId: number, callId: number): unknown;
  sdkHelper(name: string, argsJson: string): unknown;
}
