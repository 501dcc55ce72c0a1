import { PLUGIN_NAME_PATTERN } from './manifest.js';
import type { JsonSchema } from './manifest.js';

/**
 * One plugin of a policy bundle: which plugin, which versions, and the options the bundle presets
 * for it. The admin's own `plugins.<name>` section overrides the preset key by key.
 * @example
 * const entry: BundlePluginSpec = { name: 'rate-limit', version: '^0.1.0', options: { limit: 60 } };
 */
export interface BundlePluginSpec {
  /** The plugin's manifest name. */
  name: string;
  /** A semver range the plugin's version must satisfy. Absent: any version. */
  version?: string;
  /** Option presets, in the shape of the plugin's config section. */
  options?: Record<string, unknown>;
}

/**
 * A policy bundle: a package (`postern-bundle-<name>` or `@scope/postern-bundle-<name>`) whose
 * package.json carries `postern: { bundle: {...} }`. It is how a hosting provider ships its policy:
 * the plugins to run, their presets and their order, enabled by the admin with one config line.
 * @example
 * // package.json of postern-bundle-acme-hosting
 * // "postern": { "bundle": { "plugins": [{ "name": "access" }, { "name": "rate-limit", "options": { "limit": 60 } }],
 * //   "order": ["access", "rate-limit"] } }
 */
export interface BundleManifest {
  plugins: BundlePluginSpec[];
  /**
   * The order the plugins load in (which decides tap order within one stage). Names the bundle
   * lists; plugins left out follow in list order. Absent: list order.
   */
  order?: string[];
}

/**
 * The JSON Schema of `postern.bundle` in a bundle's package.json. The host also checks that each
 * `version` is a valid semver range and that `order` names only listed plugins.
 * @example
 * new Ajv().validate(BUNDLE_MANIFEST_SCHEMA, pkg.postern.bundle);
 */
export const BUNDLE_MANIFEST_SCHEMA: JsonSchema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  title: 'Postern policy bundle',
  type: 'object',
  required: ['plugins'],
  additionalProperties: false,
  properties: {
    plugins: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        required: ['name'],
        additionalProperties: false,
        properties: {
          name: { type: 'string', pattern: PLUGIN_NAME_PATTERN, 'x-message': 'must be kebab-case (lower-case words joined by -)' },
          version: { type: 'string', minLength: 1 },
          options: { type: 'object' },
        },
      },
    },
    order: { type: 'array', uniqueItems: true, items: { type: 'string', pattern: PLUGIN_NAME_PATTERN } },
  },
};
