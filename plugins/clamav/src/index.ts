import { Stage, definePlugin, quarantine, reject, tempfail } from '@postern/sdk';
import type { PluginDefinition } from '@postern/sdk';
import { defaults, validate } from './options.js';
import type { ClamavOptions } from './options.js';
import { clamdScanner } from './scanner.js';
import type { Scan } from './scanner.js';

export type { ClamavAction, ClamavOnError, ClamavOptions } from './options.js';
export { clamdScanner } from './scanner.js';
export type { ClamdTarget, Scan, ScanResult } from './scanner.js';

/** What the plugin records under `tx.results.get('clamav')` for every message it sees. */
export interface ClamavResult {
  infected: boolean;
  /** Signature names, empty when clean or not scanned. */
  viruses: string[];
  /** Set when the message was not scanned: too large for `maxSizeBytes`, or clamd failed. */
  skipped?: 'too-large' | 'error';
}

/** The folder infected mail goes to with `action: quarantine`. */
export const QUARANTINE_FOLDER = 'Quarantine';

class ScanTimeout extends Error {}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, fail) => {
    timer = setTimeout(() => fail(new ScanTimeout(`no verdict within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** A signature name fit for an SMTP reply line. */
function cleanName(name: string): string {
  const text = name.replace(/[^\x21-\x7e]+/g, '_').slice(0, 100);
  return text === '' ? 'unknown' : text;
}

const describe = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/**
 * The plugin with its scanner chosen by `makeScan` (given the options). The default export uses
 * clamd over TCP; tests pass a fake.
 * @example
 * const plugin = createClamavPlugin(() => async () => ({ infected: true, viruses: ['Eicar'] }));
 */
export function createClamavPlugin(makeScan: (options: Readonly<ClamavOptions>) => Scan = (o) => clamdScanner({ host: o.host, port: o.port, timeoutMs: o.scanTimeoutMs })): PluginDefinition<ClamavOptions> {
  return definePlugin<ClamavOptions>({
    name: 'clamav',
    defaults,
    validate,
    setup(api) {
      const { scanTimeoutMs, maxSizeBytes, action, onError } = api.options;
      const scan = makeScan(api.options);

      api.tap(
        'data',
        async (_session, tx) => {
          const message = tx.message;
          if (message === undefined) return undefined;
          if (message.length > maxSizeBytes) {
            tx.results.set('clamav', { infected: false, viruses: [], skipped: 'too-large' } satisfies ClamavResult);
            api.log.info({ tx: tx.id, size: message.length, maxSizeBytes }, 'clamav: message too large, not scanned');
            return undefined;
          }

          let result;
          try {
            result = await withTimeout(scan(message), scanTimeoutMs);
          } catch (err) {
            tx.results.set('clamav', { infected: false, viruses: [], skipped: 'error' } satisfies ClamavResult);
            api.log.warn({ tx: tx.id, error: describe(err), onError }, 'clamav: scan failed');
            if (onError === 'accept') return undefined;
            return tempfail('Virus scan unavailable, try again later', { code: 451, enhanced: '4.7.1', reason: `clamav: ${describe(err)}` });
          }

          const viruses = result.infected ? (result.viruses.length > 0 ? result.viruses : ['unknown']) : [];
          tx.results.set('clamav', { infected: result.infected, viruses } satisfies ClamavResult);
          tx.addHeader('X-Virus-Scanned', 'ClamAV');
          if (!result.infected) return undefined;

          const reason = `clamav: ${viruses.join(', ')}`;
          api.log.info({ tx: tx.id, viruses, action }, 'clamav: virus found');
          if (action === 'quarantine') return quarantine({ folder: QUARANTINE_FOLDER, reason });
          return reject(`Virus found: ${cleanName(viruses[0]!)}`, { code: 554, enhanced: '5.7.1', reason });
        },
        // Room for a scan that uses all of scanTimeoutMs, so the plugin (not the host's tap
        // timeout) decides what a slow clamd means.
        { stage: Stage.CONTENT, timeoutMs: scanTimeoutMs + 1000 },
      );
    },
  });
}

/**
 * Antivirus at DATA: each message (up to `maxSizeBytes`) streamed to clamd; infected mail is
 * refused with 554 5.7.1 or quarantined; a clamd that is down or slow means 451 (or accept).
 */
export default createClamavPlugin();
