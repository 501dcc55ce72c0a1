import { DELIVERY_HOOKS, EVENT_HOOKS, POLICY_HOOKS } from './hooks.js';
import type { HookName } from './hooks.js';

/**
 * A JSON Schema (draft-07, as ajv reads it), kept loose on purpose: the host compiles it with ajv,
 * which is the real judge of what is valid.
 * @example
 * const schema: JsonSchema = { type: 'object', properties: { limit: { type: 'integer', default: 10 } } };
 */
export type JsonSchema = { [keyword: string]: unknown };

/**
 * Every hook name a manifest may list, policy hooks first. Derived from the sdk's hook lists so a
 * new hook is accepted in manifests the day it is declared.
 * @example
 * HOOK_NAMES.includes('mailFrom'); // true
 */
export const HOOK_NAMES: readonly HookName[] = Object.freeze([...POLICY_HOOKS, ...DELIVERY_HOOKS, ...EVENT_HOOKS]);

/**
 * What a plugin asks the host for. A trusted plugin runs in-process and can do anything Node can;
 * these matter for a sandboxed (untrusted) plugin, which gets only what it asks for here AND the
 * admin granted. Anything left out is denied.
 * @example
 * const permissions: PluginPermissions = { dns: true, net: ['rbl.example.net:53'] };
 */
export interface PluginPermissions {
  /** A DNS resolver (the server's, with its timeouts). */
  dns?: boolean;
  /** A key-value store namespaced to the plugin, backed by the server's store. */
  kv?: boolean;
  /** The logger (`api.log`). */
  log?: boolean;
  /** Hosts the plugin may open TCP connections to, each "host:port" ("[2001:db8::1]:25" for IPv6). */
  net?: string[];
  /** File system access. Only "none" exists: no plugin gets a file system. */
  fs?: 'none';
}

/**
 * A plugin's manifest as the host uses it, after `readManifest` filled the defaults: `version`
 * from package.json when the manifest has none, `permissions` `{}` when absent.
 *
 * Written in package.json under a `postern` key, or in a `postern.json` beside it (never both).
 * @example
 * // package.json
 * // "postern": { "name": "block-domains", "engine": "^0.1.0", "hooks": ["mailFrom"],
 * //   "options": { "type": "object", "properties": { "domains": { "type": "array", "default": [] } } } }
 */
export interface PluginManifest {
  /** The plugin's name (kebab-case): its config section is `plugins.<name>`. */
  name: string;
  /** The plugin's version (semver). Defaults to package.json's `version`. */
  version: string;
  /** The Postern versions the plugin works with, a semver range such as "^0.1.0". */
  engine: string;
  /** The hooks the plugin taps. A name that is not a Postern hook is an error. */
  hooks: HookName[];
  /**
   * The JSON Schema of the plugin's options (its config section without `enabled`, `failOpen` and
   * `timeoutMs`). Its `default`s fill what the admin left out. Absent: the plugin takes no options.
   */
  options?: JsonSchema;
  /** Capabilities the plugin needs when it runs sandboxed. */
  permissions: PluginPermissions;
  /**
   * The source file to build from, relative to the plugin's folder (e.g. "src/index.ts").
   * Default: package.json `exports["."]` or `main`, else index.ts, else index.js.
   */
  entry?: string;
}

/**
 * A manifest as written: `version` and `permissions` may be left out (see PluginManifest).
 * @example
 * const written: PluginManifestInput = { name: 'x', engine: '^0.1.0', hooks: ['connect'] };
 */
export type PluginManifestInput = Omit<PluginManifest, 'version' | 'permissions'> & {
  version?: string;
  permissions?: PluginPermissions;
};

/**
 * Plugin and bundle names: lower-case words joined by single dashes.
 * @example
 * new RegExp(PLUGIN_NAME_PATTERN).test('rate-limit'); // true
 */
export const PLUGIN_NAME_PATTERN = '^[a-z0-9]+(?:-[a-z0-9]+)*$';

/**
 * The JSON Schema of a manifest as written (PluginManifestInput). The host checks more than a
 * schema can say: that `version` is semver, `engine` a valid range that includes the running
 * Postern, `options` a compilable JSON Schema of an object, and `entry` a path inside the plugin.
 * @example
 * import { Ajv } from 'ajv';
 * const valid = new Ajv({ allErrors: true }).validate(MANIFEST_SCHEMA, pkg.postern);
 */
export const MANIFEST_SCHEMA: JsonSchema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  title: 'Postern plugin manifest',
  type: 'object',
  required: ['name', 'engine', 'hooks'],
  additionalProperties: false,
  properties: {
    name: { type: 'string', pattern: PLUGIN_NAME_PATTERN, maxLength: 64, 'x-message': 'must be kebab-case (lower-case words joined by -)' },
    version: { type: 'string', minLength: 1 },
    engine: { type: 'string', minLength: 1 },
    hooks: { type: 'array', uniqueItems: true, items: { type: 'string', enum: [...HOOK_NAMES] } },
    options: { type: 'object' },
    permissions: {
      type: 'object',
      additionalProperties: false,
      properties: {
        dns: { type: 'boolean' },
        kv: { type: 'boolean' },
        log: { type: 'boolean' },
        net: {
          type: 'array',
          uniqueItems: true,
          items: {
            type: 'string',
            // host or [IPv6] then a port; the port's range is checked by the host.
            pattern: '^(?:\\[[0-9A-Fa-f:.]+\\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?):[0-9]{1,5}$',
            'x-message': 'must be "host:port" (an IPv6 address in brackets)',
          },
        },
        fs: { type: 'string', enum: ['none'] },
      },
    },
    entry: { type: 'string', minLength: 1 },
  },
};
