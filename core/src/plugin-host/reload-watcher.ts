import { readdirSync, watch, type FSWatcher } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** Editors write in several steps; wait this long after the last change before reloading. */
const QUIET_MS = 250;

/**
 * Watches what a plugin generation is built from — the config file and the folders of the
 * plugins that run from source (first-party and plugins.paths; npm packages change through
 * `npm install` and `postern plugin reload`) — and calls `reload` once things are quiet.
 * `update(dirs)` re-targets the plugin folders after each generation.
 */
export class ReloadWatcher {
  readonly #reload: () => void;
  readonly #configWatcher: FSWatcher;
  #pluginWatchers = new Map<string, FSWatcher>();
  #timer: NodeJS.Timeout | undefined;

  constructor(configPath: string, reload: () => void) {
    this.#reload = reload;
    // The folder, not the file: editors often replace the file, which ends a watch on it.
    const name = basename(configPath);
    this.#configWatcher = watch(dirname(configPath), (_event, file) => {
      if (file === name) this.#kick();
    });
    this.#configWatcher.unref();
  }

  update(pluginDirs: readonly string[]): void {
    // One non-recursive watcher per source folder: Node's recursive mode on Linux walks (and
    // watches) node_modules too, which can exhaust inotify watches on a real plugin folder.
    const wanted = new Set(pluginDirs.flatMap((dir) => sourceFolders(dir)));
    for (const [dir, watcher] of this.#pluginWatchers) {
      if (!wanted.has(dir)) {
        watcher.close();
        this.#pluginWatchers.delete(dir);
      }
    }
    for (const dir of wanted) {
      if (this.#pluginWatchers.has(dir)) continue;
      try {
        const watcher = watch(dir, () => this.#kick());
        watcher.unref();
        this.#pluginWatchers.set(dir, watcher);
      } catch {
        // A folder that vanished: the next reload reports the missing plugin.
      }
    }
  }

  #kick(): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(this.#reload, QUIET_MS);
    this.#timer.unref();
  }

  close(): void {
    clearTimeout(this.#timer);
    this.#configWatcher.close();
    for (const watcher of this.#pluginWatchers.values()) watcher.close();
    this.#pluginWatchers.clear();
  }
}

/** Folders that are not plugin sources: dependencies, build output, VCS. */
const SKIP = new Set(['node_modules', 'dist', '.git']);

/** A plugin folder and its sub-folders (to a sane depth), without dependencies or build output. */
function sourceFolders(dir: string, depth = 0): string[] {
  if (depth > 4) return [];
  let entries: Array<{ name: string; isDirectory(): boolean }>;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  return [dir, ...entries.filter((e) => e.isDirectory() && !SKIP.has(e.name) && !e.name.startsWith('.')).flatMap((e) => sourceFolders(join(dir, e.name), depth + 1))];
}
