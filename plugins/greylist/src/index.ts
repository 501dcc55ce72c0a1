import { Stage, definePlugin, tempfail } from '@postern/sdk';
import type { PluginDefinition, SessionView, TransactionView } from '@postern/sdk';
import { clientNetwork } from './network.js';
import { defaults, validate } from './options.js';
import type { GreylistOptions } from './options.js';

export { clientNetwork } from './network.js';
export type { GreylistOptions } from './options.js';

/** What the plugin records under `tx.results.get('greylist')` (the last recipient checked). */
export interface GreylistResult {
  action: 'passed' | 'greylisted' | 'skipped';
  /**
   * passed: 'retry' (first accepted retry) or 'known' (a triplet that passed before);
   * greylisted: 'new' (first sight) or 'too-early' (retried within ignoreResendSec);
   * skipped: 'authenticated', 'trusted', 'allowlisted' or 'spf-pass'.
   */
  reason: string;
  /** greylisted only: seconds until a retry is accepted. */
  waitSec?: number;
}

/** What the spf plugin is expected to record under `tx.results.get('spf')`. */
export interface SpfResult {
  result: 'pass' | 'fail' | 'softfail' | 'neutral' | 'none' | 'temperror' | 'permerror';
}

/** The kv value of one triplet: waiting for its retry, or passed. Times are epoch milliseconds. */
type TripletState = { state: 'pending'; firstSeen: number } | { state: 'passed'; firstSeen: number; lastSeen: number };

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

function skipReason(session: SessionView, tx: TransactionView, skipSpfPass: boolean): string | undefined {
  if (session.user !== undefined) return 'authenticated';
  if (session.trusted) return 'trusted';
  // The access plugin records its allow on the session (network) and copies it to each transaction.
  const allowed = (r: { allow?: unknown } | undefined): boolean => r?.allow === true;
  if (allowed(session.results.get('access')) || allowed(tx.results.get('access'))) return 'allowlisted';
  if (skipSpfPass && tx.results.get<Partial<SpfResult>>('spf')?.result === 'pass') return 'spf-pass';
  return undefined;
}

/**
 * The greylist plugin with its own clock. The server uses the default export (`Date.now`); tests
 * pass the clock they give `memoryKv(now)`, so TTLs and the plugin's arithmetic move together.
 */
export function createGreylist(now: () => number = Date.now): PluginDefinition<GreylistOptions> {
  return definePlugin<GreylistOptions>({
    name: 'greylist',
    defaults,
    validate,
    setup(api) {
      const kv = api.kv;
      // First-party plugins always get kv; a sandboxed copy without the grant cannot work at all.
      if (kv === undefined) throw new Error('greylist needs api.kv (grant the "kv" permission)');
      const { skipSpfPass } = api.options;
      const ignoreMs = api.options.ignoreResendSec * 1000;
      const waitMs = api.options.waitForResendHours * HOUR_MS;
      const passedMs = api.options.passedDays * DAY_MS;

      api.tap(
        'rcptTo',
        async (session, tx, recipient) => {
          const record = (result: GreylistResult): void => tx.results.set('greylist', result);
          const skipped = skipReason(session, tx, skipSpfPass);
          if (skipped !== undefined) {
            record({ action: 'skipped', reason: skipped });
            return undefined;
          }

          const key = `t:${clientNetwork(session.remoteAddress)}|${tx.mailFrom.address.toLowerCase()}|${recipient.address.toLowerCase()}`;
          const t = now();
          const known = await kv.get<TripletState>(key);

          if (known?.state === 'passed') {
            await kv.set(key, { ...known, lastSeen: t } satisfies TripletState, { ttlMs: passedMs });
            record({ action: 'passed', reason: 'known' });
            return undefined;
          }

          // The kv TTL forgets stale triplets; the age check also covers a store that expires lazily.
          const pending = known?.state === 'pending' && t - known.firstSeen < waitMs ? known : undefined;
          if (pending !== undefined && t - pending.firstSeen >= ignoreMs) {
            await kv.set(key, { state: 'passed', firstSeen: pending.firstSeen, lastSeen: t } satisfies TripletState, { ttlMs: passedMs });
            record({ action: 'passed', reason: 'retry' });
            return undefined;
          }

          if (pending === undefined) {
            // Not rewritten on early retries: waitForResendHours counts from first sight.
            await kv.set(key, { state: 'pending', firstSeen: t } satisfies TripletState, { ttlMs: waitMs });
          }
          const firstSeen = pending?.firstSeen ?? t;
          const waitSec = Math.max(1, Math.ceil((firstSeen + ignoreMs - t) / 1000));
          record({ action: 'greylisted', reason: pending === undefined ? 'new' : 'too-early', waitSec });
          return tempfail(`Greylisted: please try again in ${waitSec} seconds`, {
            code: 451,
            enhanced: '4.7.1',
            reason: `greylist: ${pending === undefined ? 'first sight of' : 'early retry of'} ${key}`,
          });
        },
        { stage: Stage.DEFAULT },
      );
    },
  });
}

/**
 * Triplet greylisting: the first message from a (client network, sender, recipient) triplet gets
 * 451 4.7.1; a retry after `ignoreResendSec` (and within `waitForResendHours`) passes, and the
 * triplet then passes without delay for `passedDays` after each use. Real MTAs retry; most
 * spam-sending software does not.
 */
export default createGreylist();
