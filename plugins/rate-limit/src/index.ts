import { Stage, definePlugin, disconnect, tempfail } from '@postern/sdk';
import type { SessionView, TransactionView } from '@postern/sdk';
import { clientKey } from './client-key.js';
import { defaults, validate } from './options.js';
import type { Exemptions, RateLimitOptions } from './options.js';
import { createLimiter } from './sliding-window.js';

export { createLimiter } from './sliding-window.js';
export type { Hit, Limiter } from './sliding-window.js';
export type { Exemptions, KeyKind, LimitAction, RateLimitOptions } from './options.js';

/** What the plugin records under `tx.results.get('rate-limit')` for every counted message. */
export interface RateLimitResult {
  /** The counter, e.g. "ip:192.0.2.10", "sender:a@b.test", "user:alice@example.test". */
  key: string;
  /** Messages in the window including this one (limit + 1 when refused). */
  count: number;
  limit: number;
}

function isAllowlisted(session: SessionView, tx: TransactionView): boolean {
  const allowed = (r: { allow?: unknown } | undefined): boolean => r?.allow === true;
  return allowed(session.results.get('access')) || allowed(tx.results.get('access'));
}

function exemption(exempt: Exemptions, session: SessionView, tx: TransactionView): string | undefined {
  if (exempt.trusted && session.trusted) return 'trusted';
  if (exempt.authenticated && session.user !== undefined) return 'authenticated';
  if (exempt.allowlisted && isAllowlisted(session, tx)) return 'allowlisted';
  return undefined;
}

/** Messages per client per sliding window; the (limit+1)-th inside the window is refused. */
export default definePlugin<RateLimitOptions>({
  name: 'rate-limit',
  defaults,
  validate,
  setup(api) {
    const { limit, windowSec, key, action, message } = api.options;
    // A shallow config merge may hand us a partial `exempt`; fill the gaps from the defaults.
    const exempt: Exemptions = { ...defaults.exempt, ...api.options.exempt };
    const windowMs = windowSec * 1000;
    const limiter = createLimiter(limit, windowMs);

    // Idle keys cost memory until pruned; unref'd so the timer never keeps the process alive.
    const sweep = setInterval(() => limiter.prune(), Math.min(windowMs, 60_000));
    sweep.unref();
    api.onShutdown(() => clearInterval(sweep));

    const refuse = action === 'disconnect' ? disconnect : tempfail;
    const code = action === 'disconnect' ? 421 : 451;

    api.tap(
      'mailFrom',
      (session, tx) => {
        if (exemption(exempt, session, tx) !== undefined) return undefined;
        const counter = clientKey(key, session, tx);
        const hit = limiter.hit(counter);
        tx.results.set('rate-limit', { key: counter, count: hit.count, limit } satisfies RateLimitResult);
        if (hit.allowed) return undefined;
        return refuse(message, { code, enhanced: '4.7.0', reason: `rate-limit: ${counter} over ${limit} messages in ${windowSec}s` });
      },
      // The access plugin accepts allowlisted mail at Stage.ACCESS and so stops this hook before
      // Stage.EARLY. When allowlisted clients must be counted too, run just before it instead.
      { stage: exempt.allowlisted ? Stage.EARLY : Stage.ACCESS - 10 },
    );
  },
});
