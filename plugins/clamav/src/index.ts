import { Stage, definePlugin, quarantine, reject, tempfail } from '@postern/sdk';
import type { PluginDefinition } from '@postern/sdk';
import { withTimeout } from '@postern/sdk/net';
import { defaults, validate } from './options.js';
import type { ClamavAction, ClamavOptions } from './options.js';
import { buildNotice } from './notice.js';
import { clamdScanner } from './scanner.js';
import type { Scan } from './scanner.js';

export type { ClamavAction, ClamavOnError, ClamavOptions } from './options.js';
export { buildNotice, ORIGINAL_FILENAME, SUBJECT_PREFIX } from './notice.js';
export type { NoticeInput } from './notice.js';
export { clamdScanner } from './scanner.js';
export type { ClamdTarget, Scan, ScanResult } from './scanner.js';

/** What the plugin records under `tx.results.get('clamav')` for every message it sees. */
export interface ClamavResult {
  infected: boolean;
  /** Signature names, empty when clean or not scanned. */
  viruses: string[];
  /** Set when the message was not scanned: too large for `maxSizeBytes`, or clamd failed. */
  skipped?: 'too-large' | 'error';
  /** Set when infected: what the plugin did (`action`). */
  action?: ClamavAction;
}

/** The folder infected mail goes to with `action: quarantine`. */
export const QUARANTINE_FOLDER = 'Quarantine';

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
        async (session, tx) => {
          const message = tx.message;
          if (message === undefined) return undefined;
          if (message.length > maxSizeBytes) {
            tx.results.set('clamav', { infected: false, viruses: [], skipped: 'too-large' } satisfies ClamavResult);
            api.log.info({ tx: tx.id, size: message.length, maxSizeBytes }, 'clamav: message too large, not scanned');
            return undefined;
          }

          let result;
          try {
            result = await withTimeout(scan(message), scanTimeoutMs, () => new Error(`no verdict within ${scanTimeoutMs} ms`));
          } catch (err) {
            tx.results.set('clamav', { infected: false, viruses: [], skipped: 'error' } satisfies ClamavResult);
            api.log.warn({ tx: tx.id, error: describe(err), onError }, 'clamav: scan failed');
            if (onError === 'accept') return undefined;
            return tempfail('Virus scan unavailable, try again later', { code: 451, enhanced: '4.7.1', reason: `clamav: ${describe(err)}` });
          }

          tx.addHeader('X-Virus-Scanned', 'ClamAV');
          if (!result.infected) {
            tx.results.set('clamav', { infected: false, viruses: [] } satisfies ClamavResult);
            return undefined;
          }

          const viruses = result.viruses.length > 0 ? result.viruses : ['unknown'];
          tx.results.set('clamav', { infected: true, viruses, action } satisfies ClamavResult);
          const reason = `clamav: ${viruses.join(', ')}`;
          // user / trusted: mail from our own users or networks (submission, relay), scanned alike.
          api.log.info({ tx: tx.id, viruses, action, listener: session.listener, user: session.user, trusted: session.trusted }, 'clamav: virus found');
          // Quarantine and notice keep a virus in the mail system for a local reader; mail our own
          // users send goes mostly to other servers, where neither applies: it is refused instead,
          // so a virus never leaves through us and the sender learns at once.
          const outgoing = session.user !== undefined || session.trusted;
          if (outgoing) return reject(`Virus found: ${cleanName(viruses[0]!)}`, { code: 554, enhanced: '5.7.1', reason });
          if (action === 'quarantine') return quarantine({ folder: QUARANTINE_FOLDER, reason });
          if (action === 'notice') {
            tx.replaceMessage(buildNotice({ original: message, viruses, queueId: tx.id, mailFrom: tx.mailFrom.address, hostname: api.hostname }));
            return undefined;
          }
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
 * refused with 554 5.7.1, quarantined, or replaced by a notice carrying the original as an
 * attachment; a clamd that is down or slow means 451 (or accept).
 */
export default createClamavPlugin();
