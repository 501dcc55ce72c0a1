import { Stage, definePlugin, quarantine, reject, tempfail } from '@postern/sdk';
import type { PluginDefinition } from '@postern/sdk';
import { withTimeout } from '@postern/sdk/net';
import { formatScore, spamHeaders } from './headers.js';
import { defaults, validate } from './options.js';
import { receivedForSpamd } from './received.js';
import type { SpamassassinOptions } from './options.js';
import { spamcRequest } from './spamc-client.js';

export type { SpamassassinOnError, SpamassassinOptions } from './options.js';
export { defaults, validate } from './options.js';
export { fold, formatScore, spamHeaders } from './headers.js';
export { receivedForSpamd } from './received.js';
export { SPAMD_EXIT_CODES, SpamcError, spamcRequest, spamdPing } from './spamc-client.js';
export type { SpamcCommand, SpamcErrorCode, SpamcReply, SpamdTarget } from './spamc-client.js';

/** What one scan says (spamd's own verdict, before the plugin's thresholds). */
export interface ScanResult {
  isSpam: boolean;
  score: number;
  /** spamd's required_score. */
  threshold: number;
  /** The rules that hit. */
  symbols: string[];
}

/**
 * Scan one message (as received, with a Received header for the current hop on top: see
 * received.ts). Rejects when there is no verdict (spamd down, slow, refused, gave garbage). */
export type Scan = (message: Buffer) => Promise<ScanResult>;

/** Why a message was not scanned. */
export type SpamassassinSkip = 'too-large' | 'error' | 'authenticated' | 'trusted';

/** What the plugin records under `tx.results.get('spamassassin')` for every message it sees. */
export type SpamassassinResult =
  | {
      scanned: true;
      /** score >= `required`. */
      isSpam: boolean;
      score: number;
      /** The mark threshold applied: `markThreshold`, else spamd's. */
      required: number;
      /** spamd's own required_score. */
      spamdThreshold: number;
      /** The SpamAssassin rules that hit. */
      tests: string[];
      /** What the plugin did: nothing, delivery into the Junk folder, or a 550. */
      action: 'accept' | 'junk' | 'reject';
    }
  | {
      scanned: false;
      skipped: SpamassassinSkip;
      /** For `skipped: 'error'`: why the scan failed. */
      error?: string;
    };

/** The header an accepted but unscanned message (too large, spamd failed) carries. */
export const SKIPPED_HEADER = 'X-Spam-Skipped';

const describe = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/**
 * The default scanner: SYMBOLS over SPAMC/1.5 to spamd (our own client, spamc-client.ts).
 * @example
 * const scan = spamdScanner({ ...defaults, port: 7830 });
 * const { score, symbols } = await scan(message);
 */
export function spamdScanner(options: Readonly<SpamassassinOptions>): Scan {
  const target = {
    host: options.host,
    port: options.port,
    connectTimeoutMs: options.connectTimeoutMs,
    timeoutMs: options.scanTimeoutMs,
    ...(options.user === null ? {} : { user: options.user }),
  };
  return async (message) => {
    const reply = await spamcRequest(target, 'SYMBOLS', message);
    return { isSpam: reply.isSpam, score: reply.score, threshold: reply.threshold, symbols: reply.symbols };
  };
}

/**
 * The plugin with its scanner chosen by `makeScan` (given the options). The default export asks
 * spamd over SPAMC/1.5.
 * @example
 * const plugin = createSpamassassinPlugin(() => async () => ({ isSpam: true, score: 9, threshold: 5, symbols: ['X'] }));
 */
export function createSpamassassinPlugin(makeScan: (options: Readonly<SpamassassinOptions>) => Scan = spamdScanner): PluginDefinition<SpamassassinOptions> {
  return definePlugin<SpamassassinOptions>({
    name: 'spamassassin',
    defaults,
    validate,
    setup(api) {
      const { scanTimeoutMs, maxSizeBytes, markThreshold, rejectThreshold, folder, onError, skipAuthenticated, skipTrusted } = api.options;
      const scan = makeScan(api.options);

      api.tap(
        'data',
        async (session, tx) => {
          const message = tx.message;
          if (message === undefined) return undefined;
          const skip = (skipped: SpamassassinSkip, error?: string) =>
            tx.results.set('spamassassin', { scanned: false, skipped, ...(error === undefined ? {} : { error }) } satisfies SpamassassinResult);

          // Outbound mail of your own users and trusted hosts: not scanned, no header.
          if (skipAuthenticated && session.user !== undefined) return void skip('authenticated');
          if (skipTrusted && session.trusted) return void skip('trusted');
          if (message.length > maxSizeBytes) {
            skip('too-large');
            tx.addHeader(SKIPPED_HEADER, 'too-large');
            api.log.info({ tx: tx.id, size: message.length, maxSizeBytes }, 'spamassassin: message too large, not scanned');
            return undefined;
          }

          let result: ScanResult;
          try {
            const received = Buffer.from(receivedForSpamd(session, tx, api.hostname), 'latin1');
            // The plugin's own guard around any scanner (the default one also times itself out).
            const guardMs = scanTimeoutMs + 500;
            result = await withTimeout(scan(Buffer.concat([received, message])), guardMs, () => new Error(`no verdict within ${guardMs} ms`));
          } catch (err) {
            skip('error', describe(err));
            api.log.warn({ tx: tx.id, error: describe(err), code: (err as { code?: unknown }).code, onError }, 'spamassassin: scan failed');
            if (onError === 'accept') {
              tx.addHeader(SKIPPED_HEADER, 'error');
              return undefined;
            }
            return tempfail('Spam scan unavailable, try again later', { code: 451, enhanced: '4.7.1', reason: `spamassassin: ${describe(err)}` });
          }

          const required = markThreshold ?? result.threshold;
          const isSpam = markThreshold === null ? result.isSpam : result.score >= markThreshold;
          const refuse = rejectThreshold !== null && result.score >= rejectThreshold;
          const action = refuse ? 'reject' : isSpam ? 'junk' : 'accept';
          tx.results.set('spamassassin', {
            scanned: true,
            isSpam,
            score: result.score,
            required,
            spamdThreshold: result.threshold,
            tests: result.symbols,
            action,
          } satisfies SpamassassinResult);
          for (const [name, value] of spamHeaders({ isSpam, score: result.score, required, tests: result.symbols })) tx.addHeader(name, value);

          const reason = `spamassassin: score ${formatScore(result.score)} (required ${formatScore(required)}${rejectThreshold === null ? '' : `, reject ${formatScore(rejectThreshold)}`}) tests=${result.symbols.join(',')}`;
          if (action === 'accept') return undefined;
          api.log.info({ tx: tx.id, score: result.score, required, rejectThreshold, tests: result.symbols, action }, 'spamassassin: spam');
          if (action === 'reject') return reject(`Message refused as spam (score ${formatScore(result.score)})`, { code: 550, enhanced: '5.7.1', reason });
          return quarantine({ folder, reason });
        },
        // Room for a scan that uses all of scanTimeoutMs, so the plugin (not the host's tap
        // timeout) decides what a slow spamd means.
        { stage: Stage.CONTENT, timeoutMs: scanTimeoutMs + 1000 },
      );
    },
  });
}

/**
 * Spam scoring at DATA with SpamAssassin's spamd: X-Spam-Flag / X-Spam-Score / X-Spam-Status on
 * every scanned message, spam into the recipients' Junk folder, 550 5.7.1 above `rejectThreshold`,
 * 451 (or accept) when spamd is down or slow.
 */
export default createSpamassassinPlugin();
