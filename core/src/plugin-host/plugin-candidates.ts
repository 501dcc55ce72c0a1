/**
 * Finding the folders that may hold a plugin or a policy bundle, before any manifest is read.
 * Only the file system is looked at here; discover.ts reads the manifests and applies precedence.
 */
import { existsSync } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';

/** npm packages that are plugins: `postern-plugin-<name>` and `@scope/postern-plugin-<name>`. */
export const NPM_PLUGIN_PREFIX = 'postern-plugin-';
/** npm packages that are policy bundles: `postern-bundle-<name>` and `@scope/postern-bundle-<name>`. */
export const NPM_BUNDLE_PREFIX = 'postern-bundle-';

/** A folder that may hold a plugin (or bundle), with the name to use in errors until its manifest says otherwise. */
export interface Candidate {
  dir: string;
  /** Folder name, or the npm package name without its prefix. */
  guess: string;
  /** The npm package name, for npm candidates. */
  packageName?: string;
}

/**
 * Sub-folders of `root` (symlinks to folders included: npm workspaces and `npm link` use them),
 * sorted so discovery is the same on every file system. Undefined when `root` does not exist.
 */
export async function subfolders(root: string): Promise<string[] | undefined> {
  let entries;
  try {
    entries = await readdir(root, { withFileTypes: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw err;
  }
  const names: string[] = [];
  for (const entry of entries) {
    if (entry.isDirectory()) names.push(entry.name);
    else if (entry.isSymbolicLink()) {
      const target = await stat(join(root, entry.name)).catch(() => undefined);
      if (target?.isDirectory()) names.push(entry.name);
    }
  }
  return names.sort();
}

/**
 * Plugin folders directly under `root` (first-party plugins/ or a config path): those with a
 * package.json or a postern.json. Names starting with `_` (plugins/_template) or `.` are skipped,
 * and so is a folder with neither file (a shared helper, node_modules): it is not trying to be a
 * plugin. A folder with a package.json but no manifest is returned, so its error can be shown.
 */
export async function folderCandidates(root: string): Promise<Candidate[] | undefined> {
  const names = await subfolders(root);
  if (names === undefined) return undefined;
  return names
    .filter((name) => !name.startsWith('_') && !name.startsWith('.') && name !== 'node_modules')
    .filter((name) => existsSync(join(root, name, 'package.json')) || existsSync(join(root, name, 'postern.json')))
    .map((name) => ({ dir: join(root, name), guess: name }));
}

/**
 * npm packages in one node_modules folder whose name (unscoped or under any `@scope/`) starts with
 * `prefix`. A missing folder has none.
 */
export async function npmCandidates(nodeModules: string, prefix: string): Promise<Candidate[]> {
  const found: Candidate[] = [];
  for (const name of (await subfolders(nodeModules)) ?? []) {
    if (name.startsWith('@')) {
      for (const scoped of (await subfolders(join(nodeModules, name))) ?? []) {
        if (scoped.startsWith(prefix) && scoped.length > prefix.length) {
          found.push({ dir: join(nodeModules, name, scoped), guess: scoped.slice(prefix.length), packageName: `${name}/${scoped}` });
        }
      }
    } else if (name.startsWith(prefix) && name.length > prefix.length) {
      found.push({ dir: join(nodeModules, name), guess: name.slice(prefix.length), packageName: name });
    }
  }
  return found;
}
