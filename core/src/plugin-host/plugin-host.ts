import type { Logger } from 'pino';
import type { PosternConfig } from '../config/types.js';
import type { Pipeline } from '../pipeline/pipeline.js';
import type { TapTiming } from '../pipeline/tap-timings.js';
import type { LoadedPlugin } from './plugin-loader.js';

/** One plugin set, built and validated as a whole: the unit that hot reload swaps. */
export interface Generation {
  id: number;
  pipeline: Pipeline;
  plugins: LoadedPlugin[];
  createdAt: number;
}

/** A session's or a delivery's hold on a generation; release it when done. */
export interface Lease {
  generation: Generation;
  release(): void;
}

export interface ReloadResult {
  ok: boolean;
  generation: number;
  error?: { code?: string; message: string };
}

export interface PluginStatus {
  pid: number;
  generation: number;
  since: number;
  plugins: Array<{ name: string; version: string; dir: string }>;
  lastError?: { at: number; code?: string; message: string };
}

export interface TapTimingsReport {
  generation: number;
  since: number;
  /** Busiest first. */
  taps: Array<TapTiming & { avgMs: number }>;
}

/** Builds a generation's pipeline from a config: core taps plus every enabled plugin. Throws on any failure. */
export type GenerationBuilder = (config: PosternConfig) => Promise<{ pipeline: Pipeline; plugins: LoadedPlugin[] }>;

/**
 * Owns the plugin generations. New sessions lease the current one and keep it to the end, so a
 * reload never changes the rules under a session in flight; a new generation becomes current
 * only once every plugin in it loaded and validated, otherwise the current one stays and the
 * error is kept for `postern plugin list`. An old generation is shut down (its plugins'
 * onShutdown callbacks run) when its last lease is released. No listener is touched.
 */
export class PluginHost {
  readonly #build: GenerationBuilder;
  readonly #log: Logger;
  readonly #leases = new Map<Generation, number>();
  #current: Generation;
  #nextId = 2;
  #reloading: Promise<ReloadResult> | undefined;
  lastError: { at: number; code?: string; message: string } | undefined;
  /** Called after every reload attempt, successful or not (the server writes its status file). */
  onChange: (() => void) | undefined;

  private constructor(first: Generation, build: GenerationBuilder, log: Logger) {
    this.#current = first;
    this.#build = build;
    this.#log = log;
  }

  /** Build the first generation; a failure here stops the server from starting. */
  static async start(config: PosternConfig, build: GenerationBuilder, log: Logger): Promise<PluginHost> {
    const { pipeline, plugins } = await build(config);
    return new PluginHost({ id: 1, pipeline, plugins, createdAt: Date.now() }, build, log);
  }

  current(): Generation {
    return this.#current;
  }

  acquire(): Lease {
    const generation = this.#current;
    this.#leases.set(generation, (this.#leases.get(generation) ?? 0) + 1);
    let released = false;
    return {
      generation,
      release: () => {
        if (released) return;
        released = true;
        const left = (this.#leases.get(generation) ?? 1) - 1;
        if (left > 0) this.#leases.set(generation, left);
        else {
          this.#leases.delete(generation);
          if (generation !== this.#current) void this.#retire(generation);
        }
      },
    };
  }

  /** Build a new generation from `config`; concurrent calls share one build. */
  reload(config: PosternConfig): Promise<ReloadResult> {
    this.#reloading ??= this.#reload(config).finally(() => {
      this.#reloading = undefined;
    });
    return this.#reloading;
  }

  async #reload(config: PosternConfig): Promise<ReloadResult> {
    const started = performance.now();
    try {
      const { pipeline, plugins } = await this.#build(config);
      const previous = this.#current;
      this.#current = { id: this.#nextId++, pipeline, plugins, createdAt: Date.now() };
      this.lastError = undefined;
      this.#log.info(
        { generation: this.#current.id, plugins: plugins.map((p) => p.name), ms: Math.round(performance.now() - started) },
        'plugin generation is now current',
      );
      if (!this.#leases.has(previous)) void this.#retire(previous);
      this.onChange?.();
      return { ok: true, generation: this.#current.id };
    } catch (err) {
      const e = err as { code?: string; message?: string };
      this.lastError = { at: Date.now(), message: e.message ?? String(err), ...(e.code ? { code: e.code } : {}) };
      this.#log.error({ err, code: e.code, generation: this.#current.id }, 'plugin reload failed; the current generation keeps serving');
      this.onChange?.();
      return { ok: false, generation: this.#current.id, error: { message: this.lastError.message, ...(e.code ? { code: e.code } : {}) } };
    }
  }

  async #retire(generation: Generation): Promise<void> {
    await generation.pipeline.shutdown();
    this.#log.info({ generation: generation.id }, 'plugin generation retired');
  }

  /** What `postern plugin list` shows: the serving generation and the last reload error. */
  status(): PluginStatus {
    const g = this.#current;
    return {
      pid: process.pid,
      generation: g.id,
      since: g.createdAt,
      plugins: g.plugins.map((p) => ({ name: p.name, version: p.version, dir: p.dir })),
      ...(this.lastError ? { lastError: this.lastError } : {}),
    };
  }

  /**
   * Where the time goes: per hook and tap owner, the calls, failures and time spent since the
   * serving generation was built (a reload starts new counts).
   */
  timings(): TapTimingsReport {
    const g = this.#current;
    const taps = g.pipeline.timings
      .snapshot()
      .map((t) => ({ ...t, totalMs: Math.round(t.totalMs * 1000) / 1000, avgMs: t.calls === 0 ? 0 : Math.round((t.totalMs / t.calls) * 1000) / 1000 }))
      .sort((a, b) => b.totalMs - a.totalMs);
    return { generation: g.id, since: g.createdAt, taps };
  }

  /** Shut every generation down (server stop). */
  async close(): Promise<void> {
    await this.#reloading?.catch(() => undefined);
    const all = new Set([this.#current, ...this.#leases.keys()]);
    this.#leases.clear();
    for (const generation of all) await generation.pipeline.shutdown();
  }
}
