import { open } from 'node:fs/promises';

/**
 * Group commit for directory fsyncs. A rename or create is durable only once its directory is
 * fsync'd; when many messages land in the same directory at once, one fsync covers them all.
 * Callers that arrive while a sync is running wait for the next one (which starts as soon as the
 * running one ends), so nobody is told "durable" by a sync that began before their rename.
 */
export class DirSync {
  readonly #dirs = new Map<string, { running: boolean; waiting: Array<(err?: unknown) => void> }>();

  sync(dir: string): Promise<void> {
    let state = this.#dirs.get(dir);
    if (!state) {
      state = { running: false, waiting: [] };
      this.#dirs.set(dir, state);
    }
    const promise = new Promise<void>((resolve, reject) => {
      state.waiting.push((err) => (err ? reject(err) : resolve()));
    });
    if (!state.running) void this.#run(dir, state);
    return promise;
  }

  async #run(dir: string, state: { running: boolean; waiting: Array<(err?: unknown) => void> }): Promise<void> {
    state.running = true;
    while (state.waiting.length > 0) {
      const batch = state.waiting.splice(0);
      let error: unknown;
      try {
        const handle = await open(dir, 'r');
        try {
          await handle.sync();
        } finally {
          await handle.close();
        }
      } catch (err) {
        error = err;
      }
      for (const done of batch) done(error);
    }
    state.running = false;
    this.#dirs.delete(dir);
  }
}
