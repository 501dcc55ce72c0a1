/** Keys that configure how the host runs a plugin; the plugin never sees them (as in the core's loader). */
const HOST_KEYS: ReadonlySet<string> = new Set(['enabled', 'failOpen', 'timeoutMs']);

/**
 * The options a plugin's `setup` gets, built the way core/src/plugins/plugin-loader.ts builds
 * them: the admin's top-level keys replace the defaults' one for one. The merge is shallow on
 * purpose, to match the server: a nested section the admin writes (`allow: { networks: [...] }`)
 * replaces the default section whole, so a plugin must cope with keys missing inside it, and a
 * harness that merged deeper would hide that bug until production.
 */
export function pluginOptions(defaults: unknown, section: unknown): Record<string, unknown> {
  const options: Record<string, unknown> = { ...(defaults as Record<string, unknown> | undefined) };
  for (const [key, value] of Object.entries((section ?? {}) as Record<string, unknown>)) {
    if (!HOST_KEYS.has(key)) options[key] = value;
  }
  return options;
}
