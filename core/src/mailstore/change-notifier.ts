import type { FolderChange } from './mail-store.js';

type Listener = (change: FolderChange) => void;

/**
 * The watchers of each user's folders, in this process (IDLE, NOOP). Like an EventEmitter keyed
 * by user, but a listener that throws is only reported, never allowed to stop the others or to
 * fail the store operation that caused the change.
 */
export class ChangeNotifier {
  readonly #watchers = new Map<string, Set<Listener>>();
  readonly #onError: (err: unknown) => void;

  constructor(onError: (err: unknown) => void = () => undefined) {
    this.#onError = onError;
  }

  watch(user: string, listener: Listener): () => void {
    let set = this.#watchers.get(user);
    if (!set) {
      set = new Set();
      this.#watchers.set(user, set);
    }
    // A wrapper per call, so the same function watching twice is stopped twice, independently.
    const entry: Listener = (change) => listener(change);
    set.add(entry);
    return () => {
      set.delete(entry);
      if (set.size === 0 && this.#watchers.get(user) === set) this.#watchers.delete(user);
    };
  }

  emit(change: FolderChange): void {
    const set = this.#watchers.get(change.user);
    if (!set) return;
    for (const listener of [...set]) {
      try {
        listener(change);
      } catch (err) {
        this.#onError(err);
      }
    }
  }

  /** How many watchers a user has (tests). */
  count(user: string): number {
    return this.#watchers.get(user)?.size ?? 0;
  }
}
