/**
 * Plugin discovery: every plugin and policy bundle Postern can see, with its manifest read and
 * checked. Nothing is imported or compiled here.
 *
 * Sources, and which wins when two define the same plugin name (the first in this list):
 *   1. 'path'        folders under each `plugins.paths` entry, in config order: the admin's own
 *                    copy overrides anything shipped or installed;
 *   2. 'first-party' plugins/<name> beside core (names starting with `_` are skipped);
 *   3. 'npm'         packages `postern-plugin-<name>` / `@scope/postern-plugin-<name>` in the given
 *                    node_modules folders, in the order given, packages sorted by name.
 * The plugin's name is always its manifest's `name`, never the folder or package name.
 *
 * Policy bundles (`postern-bundle-<name>` / `@scope/postern-bundle-<name>`) are found in the same
 * node_modules folders. A plugin a bundle lists is looked up in paths, then first-party, then the
 * bundle's own node_modules (source 'bundle': npm nests a dependency there when the top-level copy
 * has another version), then top-level npm; its version must satisfy the bundle's range.
 *
 * A broken manifest does not stop discovery: it is returned in `problems`, and only matters when
 * the plugin is enabled (findPlugin then throws it).
 */
import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import semver from 'semver';
import type { PluginManifest } from '@postern/sdk';
import { ErrorCode, PosternError, isPosternError } from '../errors.js';
import { readBundle } from './bundle.js';
import { readManifest } from './manifest.js';
import { NPM_BUNDLE_PREFIX, NPM_PLUGIN_PREFIX, folderCandidates, npmCandidates } from './plugin-candidates.js';
import type { Candidate } from './plugin-candidates.js';

export type PluginSource = 'path' | 'first-party' | 'npm' | 'bundle';

/** A plugin found on disk, its manifest read and checked (engine included). */
export interface DiscoveredPlugin {
  /** The manifest's name. */
  name: string;
  /** The plugin's folder (as found: a symlinked package keeps its node_modules path). */
  dir: string;
  source: PluginSource;
  manifest: PluginManifest;
  /** package.json's `name`, when the plugin has a package.json. */
  packageName?: string;
}

/** One plugin of a bundle, resolved, with the bundle's option preset for it. */
export interface BundledPlugin {
  name: string;
  /** The semver range the bundle asks for, if any. */
  version?: string;
  /** The preset; the admin's section goes over it with mergeBundleOptions. */
  options: Record<string, unknown>;
  plugin: DiscoveredPlugin;
}

/** A policy bundle whose every plugin was found in a fitting version. */
export interface DiscoveredBundle {
  /** The package name without `[@scope/]postern-bundle-`. */
  name: string;
  dir: string;
  packageName: string;
  version: string;
  /** In load order (the bundle's `order`, then list order). */
  plugins: BundledPlugin[];
}

/** Something that could not be used: a plugin whose manifest failed, or a bundle that cannot be resolved. */
export interface DiscoveryProblem {
  kind: 'plugin' | 'bundle';
  /** The plugin's or bundle's name, as far as it is known (the folder or package name otherwise). */
  name: string;
  dir: string;
  source: PluginSource;
  /** The npm package name, when the problem is an npm package. */
  packageName?: string;
  error: PosternError;
}

export interface Discovery {
  /** One plugin per name, the one precedence chose; sorted by name. */
  plugins: DiscoveredPlugin[];
  bundles: DiscoveredBundle[];
  /** Plugins hidden by a higher-precedence one of the same name (worth a log line: "x from npm is shadowed by ..."). */
  shadowed: DiscoveredPlugin[];
  problems: DiscoveryProblem[];
}

export interface DiscoverOptions {
  /** `plugins.paths` from the config, absolute, in config order. */
  paths: readonly string[];
  /** Where first-party plugins live (FIRST_PARTY_DIR). */
  firstPartyDir: string;
  /** node_modules folders to search for npm plugins and bundles, in precedence order. */
  nodeModulesDirs: readonly string[];
  /** For engine checks; default this Postern's version. */
  posternVersion?: string;
}

/** Precedence rank of a source tier: lower wins. */
const RANK: Record<PluginSource, number> = { path: 0, 'first-party': 1, bundle: 2, npm: 3 };

interface Sourced extends Candidate {
  source: PluginSource;
}

async function packageNameOf(dir: string): Promise<string | undefined> {
  try {
    const pkg = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as { name?: unknown };
    return typeof pkg.name === 'string' ? pkg.name : undefined;
  } catch {
    return undefined;
  }
}

function asPosternError(err: unknown, code: (typeof ErrorCode)[keyof typeof ErrorCode], message: string): PosternError {
  return isPosternError(err) ? err : new PosternError(code, `${message}: ${(err as Error).message}`, undefined, { cause: err });
}

/** Read the manifest of every candidate; failures become problems. Keeps the candidates' order. */
async function load(candidates: readonly Sourced[], posternVersion: string | undefined): Promise<{ found: DiscoveredPlugin[]; problems: DiscoveryProblem[] }> {
  const settled = await Promise.all(
    candidates.map(async (c) => {
      try {
        const readOptions = posternVersion === undefined ? {} : { posternVersion };
        const [manifest, packageName] = await Promise.all([readManifest(c.dir, readOptions), c.packageName ?? packageNameOf(c.dir)]);
        const plugin: DiscoveredPlugin = { name: manifest.name, dir: c.dir, source: c.source, manifest };
        if (packageName !== undefined) plugin.packageName = packageName;
        return plugin;
      } catch (err) {
        const error = asPosternError(err, ErrorCode.PLUGIN_MANIFEST_INVALID, `plugin ${c.guess}: cannot read its manifest`);
        // The manifest's name when reading got that far (engine mismatch); readManifest names the
        // plugin by its folder before that, which for npm is the package, not the plugin, name.
        const named = error.details?.plugin;
        const name = typeof named === 'string' && named !== basename(c.dir) ? named : c.guess;
        const problem: DiscoveryProblem = { kind: 'plugin', name, dir: c.dir, source: c.source, error };
        if (c.packageName !== undefined) problem.packageName = c.packageName;
        return problem;
      }
    }),
  );
  const found: DiscoveredPlugin[] = [];
  const problems: DiscoveryProblem[] = [];
  for (const entry of settled) {
    if ('error' in entry) problems.push(entry);
    else found.push(entry);
  }
  return { found, problems };
}

/** The first plugin per name wins (candidates come in precedence order); the rest are shadowed. */
function pickWinners(found: readonly DiscoveredPlugin[]): { winners: Map<string, DiscoveredPlugin>; shadowed: DiscoveredPlugin[] } {
  const winners = new Map<string, DiscoveredPlugin>();
  const shadowed: DiscoveredPlugin[] = [];
  for (const plugin of found) {
    if (winners.has(plugin.name)) shadowed.push(plugin);
    else winners.set(plugin.name, plugin);
  }
  return { winners, shadowed };
}

function describe(plugin: DiscoveredPlugin): string {
  return `${plugin.name}@${plugin.manifest.version} (${plugin.source}, ${plugin.dir})`;
}

/**
 * Find every plugin and bundle in the given places. Never throws for a bad plugin or bundle (see
 * `problems`); only an unexpected file system error (permissions on a folder) rejects.
 * @example
 * const found = await discoverPlugins({ paths: config.plugins.paths, firstPartyDir: FIRST_PARTY_DIR, nodeModulesDirs: [join(configDir, 'node_modules')] });
 * const greylist = findPlugin(found, 'greylist');
 */
export async function discoverPlugins(options: DiscoverOptions): Promise<Discovery> {
  const candidates: Sourced[] = [];
  const problems: DiscoveryProblem[] = [];
  for (const root of options.paths) {
    const found = await folderCandidates(root);
    if (found === undefined) {
      const error = new PosternError(ErrorCode.PLUGIN_NOT_FOUND, `plugins.paths: folder ${root} does not exist`, { dir: root });
      problems.push({ kind: 'plugin', name: root, dir: root, source: 'path', error });
    }
    candidates.push(...(found ?? []).map((c) => ({ ...c, source: 'path' as const })));
  }
  candidates.push(...((await folderCandidates(options.firstPartyDir)) ?? []).map((c) => ({ ...c, source: 'first-party' as const })));
  const bundleCandidates: Candidate[] = [];
  for (const nodeModules of options.nodeModulesDirs) {
    candidates.push(...(await npmCandidates(nodeModules, NPM_PLUGIN_PREFIX)).map((c) => ({ ...c, source: 'npm' as const })));
    bundleCandidates.push(...(await npmCandidates(nodeModules, NPM_BUNDLE_PREFIX)));
  }

  const loaded = await load(candidates, options.posternVersion);
  problems.push(...loaded.problems);
  const { winners, shadowed } = pickWinners(loaded.found);

  const bundles: DiscoveredBundle[] = [];
  const seenBundles = new Set<string>();
  for (const candidate of bundleCandidates) {
    const result = await resolveBundle(candidate, winners, problems, options.posternVersion);
    if ('error' in result) {
      problems.push(...result.error);
    } else if (seenBundles.has(result.name)) {
      // Same rule as plugins: the first node_modules folder given wins.
      continue;
    } else {
      seenBundles.add(result.name);
      bundles.push(result);
    }
  }

  return { plugins: [...winners.values()].sort((a, b) => a.name.localeCompare(b.name)), bundles, shadowed, problems };
}

/**
 * Resolve one bundle's plugins. Returns the bundle, or every problem found with it (all of them,
 * so the admin fixes the bundle in one go).
 */
async function resolveBundle(
  candidate: Candidate,
  winners: ReadonlyMap<string, DiscoveredPlugin>,
  known: readonly DiscoveryProblem[],
  posternVersion: string | undefined,
): Promise<DiscoveredBundle | { error: DiscoveryProblem[] }> {
  const problem = (name: string, error: PosternError): DiscoveryProblem => ({ kind: 'bundle', name, dir: candidate.dir, source: 'npm', error });
  let bundle;
  try {
    bundle = await readBundle(candidate.dir, candidate.guess);
  } catch (err) {
    return { error: [problem(candidate.guess, asPosternError(err, ErrorCode.BUNDLE_INVALID, `bundle ${candidate.guess}`))] };
  }

  // The bundle's own dependencies, when npm could not hoist them (another version at the top).
  const nestedCandidates = (await npmCandidates(join(candidate.dir, 'node_modules'), NPM_PLUGIN_PREFIX)).map((c) => ({ ...c, source: 'bundle' as const }));
  const nested = await load(nestedCandidates, posternVersion);
  const nestedWinners = pickWinners(nested.found).winners;
  const errors: DiscoveryProblem[] = [];

  const plugins: BundledPlugin[] = [];
  for (const spec of bundle.plugins) {
    const top = winners.get(spec.name);
    const plugin = top && RANK[top.source] < RANK.bundle ? top : (nestedWinners.get(spec.name) ?? top);
    if (!plugin) {
      // A plugin that exists but whose manifest failed says more than "not found".
      const broken = [...nested.problems, ...known].find((p) => p.kind === 'plugin' && p.name === spec.name);
      const error = broken
        ? new PosternError(broken.error.code, `bundle ${bundle.name}: plugin ${spec.name}: ${broken.error.message}`, { bundle: bundle.name, plugin: spec.name }, { cause: broken.error })
        : new PosternError(ErrorCode.PLUGIN_NOT_FOUND, `bundle ${bundle.name}: plugin ${spec.name} not found (install postern-plugin-${spec.name}, or add it to plugins.paths)`, {
            bundle: bundle.name,
            plugin: spec.name,
          });
      errors.push(problem(bundle.name, error));
      continue;
    }
    if (spec.version !== undefined && !semver.satisfies(plugin.manifest.version, spec.version, { includePrerelease: true })) {
      const error = new PosternError(
        ErrorCode.BUNDLE_VERSION_MISMATCH,
        `bundle ${bundle.name} wants plugin ${spec.name} ${spec.version}, found ${describe(plugin)}`,
        { bundle: bundle.name, plugin: spec.name, wanted: spec.version, found: plugin.manifest.version },
      );
      errors.push(problem(bundle.name, error));
      continue;
    }
    const entry: BundledPlugin = { name: spec.name, options: spec.options ?? {}, plugin };
    if (spec.version !== undefined) entry.version = spec.version;
    plugins.push(entry);
  }
  if (errors.length > 0) return { error: errors };
  return { name: bundle.name, dir: bundle.dir, packageName: bundle.packageName, version: bundle.version, plugins };
}

/**
 * The plugin an admin enabled under `plugins.<name>` (its manifest name, or its npm package name).
 * When a higher-precedence source holds a broken copy, that error is thrown rather than silently
 * falling back to a lower one: the admin's override must not be ignored because of a typo.
 * @throws PosternError the problem's own (MANIFEST_MISSING/INVALID, ENGINE_MISMATCH) or PLUGIN_NOT_FOUND.
 * @example
 * const plugin = findPlugin(await discoverPlugins(options), 'rate-limit');
 */
export function findPlugin(discovery: Discovery, name: string): DiscoveredPlugin {
  const plugin = discovery.plugins.find((p) => p.name === name) ?? discovery.plugins.find((p) => p.packageName === name);
  const broken = discovery.problems.find(
    (p) => p.kind === 'plugin' && (p.name === name || p.packageName === name) && (!plugin || RANK[p.source] < RANK[plugin.source]),
  );
  if (broken) throw broken.error;
  if (plugin) return plugin;
  throw new PosternError(ErrorCode.PLUGIN_NOT_FOUND, `plugin ${name} not found (looked in plugins.paths, the first-party plugins and node_modules for postern-plugin-${name})`, {
    plugin: name,
  });
}
