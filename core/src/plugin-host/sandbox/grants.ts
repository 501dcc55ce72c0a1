import { ErrorCode, PosternError } from '../../errors.js';

/**
 * The capabilities a sandboxed plugin gets. Same shape as the manifest's `permissions` (and the
 * admin's `plugins.<name>.grants`); what the sandbox receives is the intersection of the two
 * (`effectiveGrants`). Anything absent is denied.
 */
export interface SandboxGrants {
  /** `api.dns`: resolve4 / resolve6 / resolveMx / resolveTxt / resolvePtr through the server's resolver. */
  dns?: boolean;
  /** `api.kv`: an async key-value store namespaced to the plugin. */
  kv?: boolean;
  /** `api.log` writes to the plugin's logger; without it the plugin's log calls are dropped. */
  log?: boolean;
  /** `api.net.connect(host, port)` to exactly these "host:port" pairs ("[::1]:25" for IPv6). */
  net?: readonly string[];
  /** Only "none" exists: no sandboxed plugin gets a file system. Accepted so a manifest's `permissions` can be passed as is. */
  fs?: 'none';
}

/** One allowed network destination, normalised: lower-case host, IPv6 without brackets. */
export interface NetTarget {
  host: string;
  port: number;
}

const KEYS = new Set(['dns', 'kv', 'log', 'net', 'fs']);
const GRANT = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)):([0-9]{1,5})$/;

function invalid(plugin: string, key: string, reason: string): PosternError {
  return new PosternError(ErrorCode.PLUGIN_GRANTS_INVALID, `plugin ${plugin}: grants.${key}: ${reason}`, { plugin, key });
}

/** Parse one "host:port" entry of a net grant; throws PLUGIN_GRANTS_INVALID naming the entry. */
export function parseNetGrant(entry: string, plugin = '?'): NetTarget {
  const match = GRANT.exec(entry);
  const port = match ? Number(match[3]) : 0;
  if (!match || port < 1 || port > 65535) throw invalid(plugin, 'net', `"${entry}" is not "host:port" (an IPv6 address in brackets, a port 1-65535)`);
  return { host: (match[1] ?? match[2]!).toLowerCase(), port };
}

/** The lookup key of a destination; the host as the plugin gives it is normalised the same way. */
export function netKey(host: string, port: number): string {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  return `${bare.toLowerCase()}|${port}`;
}

/** Check the shape of a grants object (from config or a manifest); returns it typed. */
export function checkGrants(value: unknown, plugin = '?'): SandboxGrants {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw invalid(plugin, '', 'must be an object');
  const grants = value as Record<string, unknown>;
  for (const key of Object.keys(grants)) if (!KEYS.has(key)) throw invalid(plugin, key, 'is not a capability (dns, kv, log, net, fs)');
  for (const key of ['dns', 'kv', 'log'] as const) {
    if (grants[key] !== undefined && typeof grants[key] !== 'boolean') throw invalid(plugin, key, 'must be true or false');
  }
  if (grants.fs !== undefined && grants.fs !== 'none') throw invalid(plugin, 'fs', 'only "none" exists');
  if (grants.net !== undefined) {
    if (!Array.isArray(grants.net) || grants.net.some((e) => typeof e !== 'string')) throw invalid(plugin, 'net', 'must be a list of "host:port"');
    for (const entry of grants.net as string[]) parseNetGrant(entry, plugin);
  }
  return grants as SandboxGrants;
}

/**
 * What a sandboxed plugin actually gets: what its manifest asks for AND the admin granted. A
 * plugin never gets more than it declared, so an admin's broad grant cannot widen a plugin's reach
 * beyond what its author (and the reviewer of its manifest) saw.
 * @example
 * effectiveGrants({ dns: true, net: ['a.test:25', 'b.test:25'] }, { dns: true, net: ['a.test:25'] });
 * // { dns: true, kv: false, log: false, net: ['a.test:25'] }
 */
export function effectiveGrants(asked: SandboxGrants, granted: SandboxGrants, plugin = '?'): SandboxGrants {
  const a = checkGrants(asked, plugin);
  const g = checkGrants(granted, plugin);
  const allowed = new Set((g.net ?? []).map((e) => { const t = parseNetGrant(e, plugin); return netKey(t.host, t.port); }));
  return {
    dns: a.dns === true && g.dns === true,
    kv: a.kv === true && g.kv === true,
    log: a.log === true && g.log === true,
    net: (a.net ?? []).filter((e) => { const t = parseNetGrant(e, plugin); return allowed.has(netKey(t.host, t.port)); }),
  };
}
