import type { PluginLogger } from '@postern/sdk';
import { ErrorCode, PosternError } from '../../errors.js';
import { dnsQuery, type DnsQueryType, type SandboxDnsResolver } from './dns-resolver.js';
import type { SandboxGrants } from './grants.js';
import type { KvStore } from './kv-store.js';
import { NetGate, type SandboxFailure } from './net-gate.js';
import { DNS_QUERY_TYPES, MAX_DNS_IN_FLIGHT, MAX_KV_KEY, MAX_KV_VALUE, MAX_LOG_BYTES, MAX_WRITE, type Op } from './sandbox-protocol.js';

/*
 * The host side of a sandboxed plugin's capabilities (log, dns, kv, net), one per worker: it does
 * what the sandbox asked for in an entry's outbox (sandbox-protocol.ts) and sends each answer back
 * through `answer` (a 'cb' entry, watchdog-bounded like any other). The worker already checked the
 * arguments; they are checked again here, because whatever runs in the worker is not trusted: the
 * grants, the kv namespace and the net allow-list are enforced on this side only.
 */

/** The ops this file handles; settle, tap and shutdown belong to the plugin facade. */
export type CapabilityOp = Exclude<Op, ['settle', ...unknown[]] | ['tap', ...unknown[]] | ['shutdown', ...unknown[]]>;

export interface HostOpsContext {
  plugin: string;
  grants: SandboxGrants;
  kv: KvStore | undefined;
  resolver: SandboxDnsResolver | undefined;
  /** The plugin's logger once setup has it; records before that are dropped. */
  logger(): PluginLogger | undefined;
  /** Deliver an answer to the sandbox callback `cbId` ('' code = success). */
  answer(cbId: number, code: string, message: string, value?: string | number | null): void;
}

export interface HostOps {
  run(op: CapabilityOp): void;
  /** Close the sockets and drop every answer still to come (the worker is gone). */
  close(): void;
}

const DNS_TYPES: ReadonlySet<string> = new Set(DNS_QUERY_TYPES);
const LEVELS: ReadonlySet<string> = new Set(['debug', 'info', 'warn', 'error']);
const isId = (value: unknown): value is number => typeof value === 'number' && Number.isInteger(value);
const isKey = (key: unknown): key is string => typeof key === 'string' && key.length > 0 && key.length <= MAX_KV_KEY;

export function createHostOps(ctx: HostOpsContext): HostOps {
  const { plugin, grants } = ctx;
  let closed = false;
  let dnsInFlight = 0;

  const answer = (cbId: number, code: string, message: string, value?: string | number | null) => {
    if (!closed) ctx.answer(cbId, code, message, value);
  };
  const fail = (cbId: number, err: unknown) => {
    const e = err as { code?: unknown; message?: unknown };
    answer(cbId, typeof e.code === 'string' ? e.code : 'EFAIL', typeof e.message === 'string' ? e.message : String(err));
  };
  const settleWith = (cbId: number, work: () => Promise<string | null | undefined>) => {
    work().then((value) => answer(cbId, '', '', value), (err: unknown) => fail(cbId, err));
  };
  const socketDone = (cbId: number) => (failure: SandboxFailure | undefined) =>
    failure ? answer(cbId, failure.code, failure.message) : answer(cbId, '', '');

  const gate = grants.net && grants.net.length > 0
    ? new NetGate(grants.net, plugin, (host, port) => {
        const err = new PosternError(ErrorCode.PLUGIN_SANDBOX_DENIED, `plugin ${plugin} tried to connect to ${host}:${port}, which is not granted`, { plugin, host, port });
        ctx.logger()?.warn({ err, code: err.code, plugin, host, port }, err.message);
      })
    : undefined;

  const log = (level: unknown, json: unknown, msg: unknown) => {
    const logger = ctx.logger();
    if (!grants.log || !logger || typeof level !== 'string' || !LEVELS.has(level) || typeof json !== 'string') return;
    let obj: object;
    try {
      obj = json.length > MAX_LOG_BYTES ? { truncated: json.length } : (JSON.parse(json) as object);
    } catch {
      obj = {};
    }
    if (obj === null || typeof obj !== 'object') obj = { value: obj };
    logger[level as 'info'](obj, typeof msg === 'string' ? msg.slice(0, MAX_LOG_BYTES) : undefined);
  };

  const run = (op: CapabilityOp): void => {
    if (closed) return;
    switch (op[0]) {
      case 'log':
        return log(op[1], op[2], op[3]);
      case 'logDropped':
        if (grants.log && isId(op[1])) ctx.logger()?.warn({ dropped: op[1] }, `plugin ${plugin} logged faster than it is flushed; ${op[1]} records dropped`);
        return;
      case 'dns': {
        const [, cbId, type, name] = op;
        if (!grants.dns || !ctx.resolver || !isId(cbId)) return;
        if (typeof type !== 'string' || !DNS_TYPES.has(type) || typeof name !== 'string' || name.length === 0 || name.length > 253) return answer(cbId, 'EINVAL', 'dns: bad query');
        if (dnsInFlight >= MAX_DNS_IN_FLIGHT) return answer(cbId, ErrorCode.PLUGIN_SANDBOX_LIMIT, `dns: at most ${MAX_DNS_IN_FLIGHT} queries in flight`);
        dnsInFlight++;
        const resolver = ctx.resolver;
        return settleWith(cbId, () => dnsQuery(resolver, type as DnsQueryType, name).then((records) => JSON.stringify(records)).finally(() => dnsInFlight--));
      }
      case 'kvGet':
      case 'kvSet':
      case 'kvDelete': {
        const cbId = op[1];
        const kv = ctx.kv;
        if (!grants.kv || !kv || !isId(cbId)) return;
        if (!isKey(op[2])) return answer(cbId, ErrorCode.PLUGIN_SANDBOX_LIMIT, `kv: a key is a string of 1-${MAX_KV_KEY} characters`);
        const key = op[2];
        // The namespace is the plugin's name as the host knows it, never what the sandbox says.
        if (op[0] === 'kvGet') return settleWith(cbId, () => kv.get(plugin, key));
        if (op[0] === 'kvDelete') return settleWith(cbId, () => kv.delete(plugin, key).then(() => undefined));
        const [, , , json, ttlMs] = op;
        if (typeof json !== 'string' || json.length > MAX_KV_VALUE) return answer(cbId, ErrorCode.PLUGIN_SANDBOX_LIMIT, `kv: a value is JSON of at most ${MAX_KV_VALUE} bytes`);
        if (ttlMs !== undefined && (typeof ttlMs !== 'number' || !Number.isFinite(ttlMs) || ttlMs <= 0)) return answer(cbId, 'EINVAL', 'kv: ttlMs must be a positive number');
        return settleWith(cbId, () => kv.set(plugin, key, json, ttlMs).then(() => undefined));
      }
      case 'netOpen': {
        const [, cbId, host, port] = op;
        if (!gate || !isId(cbId)) return;
        if (typeof host !== 'string' || host.length === 0 || host.length > 255 || typeof port !== 'number') return answer(cbId, 'EINVAL', 'net.connect(host, port): a host name and a port number');
        return gate.open(host, port, (failure, id) => (failure ? answer(cbId, failure.code, failure.message) : answer(cbId, '', '', id)));
      }
      case 'netWrite': {
        const [, cbId, id, data] = op;
        if (!gate || !isId(cbId)) return;
        if (!isId(id) || typeof data !== 'string') return answer(cbId, 'EINVAL', 'socket.write: bad arguments');
        if (data.length > MAX_WRITE) return answer(cbId, ErrorCode.PLUGIN_SANDBOX_LIMIT, `socket.write: at most ${MAX_WRITE} bytes at a time`);
        return gate.write(id, Buffer.from(data, 'latin1'), socketDone(cbId));
      }
      case 'netRead': {
        const [, cbId, id] = op;
        if (!gate || !isId(cbId)) return;
        if (!isId(id)) return answer(cbId, 'EINVAL', 'socket.read: bad arguments');
        return gate.read(id, (failure, chunk) => (failure ? answer(cbId, failure.code, failure.message) : answer(cbId, '', '', chunk ? chunk.toString('latin1') : null)));
      }
      case 'netEnd': {
        const [, cbId, id] = op;
        if (!gate || !isId(cbId)) return;
        if (!isId(id)) return answer(cbId, 'EINVAL', 'socket.end: bad arguments');
        return gate.end(id, socketDone(cbId));
      }
      case 'netClose':
        if (gate && isId(op[1])) gate.close(op[1]);
        return;
    }
  };

  return {
    run,
    close() {
      closed = true;
      gate?.closeAll();
    },
  };
}
