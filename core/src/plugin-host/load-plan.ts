import type { PluginConfig, PosternConfig } from '../config/types.js';
import { findPlugin, type DiscoveredPlugin, type Discovery } from './discover.js';
import { mergeBundleOptions } from './merge-options.js';

/** One plugin to load in a generation, with its effective config section and trust. */
export interface PlannedPlugin {
  plugin: DiscoveredPlugin;
  /** The config section to use: the admin's, or a bundle's preset with the admin's keys over it. */
  section: PluginConfig;
  /** In-process (true) or sandboxed. */
  trusted: boolean;
  /** The bundle that brought it in, if any. */
  bundle?: string;
}

/**
 * What a generation loads, in order. Every enabled `plugins.<name>` section is either a plugin or
 * a policy bundle; a bundle expands, in place, into its plugins (in the bundle's order) with its
 * presets, and the admin's own `plugins.<plugin>` section, when there is one, overrides the preset
 * key by key (`enabled: false` there leaves that plugin out). Each plugin loads once.
 *
 * Trust: first-party plugins and those in `plugins.paths` run in-process; npm plugins and bundled
 * ones run sandboxed unless `plugins.trusted` names the plugin, its package, or its bundle. A
 * section's `sandbox: true|false` overrides both (an admin may sandbox a local plugin too).
 * Throws the PosternError of an enabled plugin that cannot be found or whose manifest is broken.
 */
export function planPlugins(discovery: Discovery, config: PosternConfig): PlannedPlugin[] {
  const entries = config.plugins.entries;
  const trustedNames = new Set(config.plugins.trusted);
  const enabledBundles = Object.entries(entries)
    .filter(([, section]) => section.enabled)
    .map(([name]) => discovery.bundles.find((b) => b.name === name || b.packageName === name))
    .filter((b) => b !== undefined);
  const bundled = new Set(enabledBundles.flatMap((b) => b.plugins.map((p) => p.name)));

  const trusted = (plugin: DiscoveredPlugin, bundle?: { name: string; packageName: string }) =>
    plugin.source === 'first-party' ||
    plugin.source === 'path' ||
    trustedNames.has(plugin.name) ||
    (plugin.packageName !== undefined && trustedNames.has(plugin.packageName)) ||
    (bundle !== undefined && (trustedNames.has(bundle.name) || trustedNames.has(bundle.packageName)));

  const plan: PlannedPlugin[] = [];
  const seen = new Set<string>();
  for (const [name, section] of Object.entries(entries)) {
    if (!section.enabled) continue;
    const bundle = enabledBundles.find((b) => b.name === name || b.packageName === name);
    if (bundle) {
      for (const member of bundle.plugins) {
        const admin = entries[member.name];
        if (admin?.enabled === false || seen.has(member.name)) continue;
        seen.add(member.name);
        const merged = mergeBundleOptions(member.options, admin) as PluginConfig;
        const section = { ...merged, enabled: true };
        plan.push({ plugin: member.plugin, section, trusted: section.sandbox === undefined ? trusted(member.plugin, bundle) : !section.sandbox, bundle: bundle.name });
      }
      continue;
    }
    // A plugin that an enabled bundle brings in is configured by that bundle line, not here.
    if (bundled.has(name) || seen.has(name)) continue;
    seen.add(name);
    const plugin = findPlugin(discovery, name);
    plan.push({ plugin, section, trusted: section.sandbox === undefined ? trusted(plugin) : !section.sandbox });
  }
  return plan;
}
