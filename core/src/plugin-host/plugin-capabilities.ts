import type { PluginDns, PluginKv } from '@postern/sdk';
import type { PosternConfig } from '../config/types.js';
import { createSandboxResolver } from './sandbox/dns-resolver.js';
import type { KvStore } from './sandbox/kv-store.js';

/** The longest kv key a plugin may use (the same as the sandbox's limit). */
const MAX_KEY = 512;

/**
 * The DNS lookups a trusted plugin gets as `api.dns`: the server's resolvers (config `dns`), and
 * only the lookups, so a plugin cannot change the servers for everyone. Sandboxed plugins get
 * the same lookups through their `dns` grant.
 */
export function pluginDns(config: Pick<PosternConfig, 'dns'>): PluginDns {
  return Object.freeze(createSandboxResolver(config.dns));
}

/** `api.kv` of a trusted plugin: the server's kv store, namespaced by the plugin's name, JSON values. */
export function pluginKv(store: KvStore, namespace: string): PluginKv {
  const checkKey = (key: string) => {
    if (typeof key !== 'string' || key.length === 0 || key.length > MAX_KEY) throw new TypeError(`kv: a key is a string of 1-${MAX_KEY} characters`);
  };
  return Object.freeze({
    async get<T>(key: string): Promise<T | undefined> {
      checkKey(key);
      const json = await store.get(namespace, key);
      return json === undefined ? undefined : (JSON.parse(json) as T);
    },
    async set(key: string, value: unknown, options: { ttlMs?: number } = {}): Promise<void> {
      checkKey(key);
      const json = JSON.stringify(value);
      if (json === undefined) throw new TypeError('kv: the value must be JSON data');
      const { ttlMs } = options;
      if (ttlMs !== undefined && (!Number.isFinite(ttlMs) || ttlMs <= 0)) throw new TypeError('kv: ttlMs must be a positive number');
      await store.set(namespace, key, json, ttlMs);
    },
    async delete(key: string): Promise<void> {
      checkKey(key);
      await store.delete(namespace, key);
    },
  });
}
