import { spf } from 'mailauth/lib/spf/index.js';
import { Stage, definePlugin, reject, tempfail } from '@postern/sdk';
import type { SessionView, TransactionView } from '@postern/sdk';
import { checkPtr, normaliseIp } from './ptr.js';
import type { PtrResult } from './ptr.js';
import { defaultActions, defaults, validate } from './options.js';
import type { SpfAction, SpfPtrOptions, SpfResultCode } from './options.js';
import { spfResolver, withTimeout } from './resolver.js';

export type { PtrMode, SpfAction, SpfPtrOptions, SpfResultCode } from './options.js';
export type { PtrResult } from './ptr.js';
export { nameMatches, reverseName } from './ptr.js';

/** What the plugin records under `tx.results.get('spf')` (the shape the greylist plugin reads). */
export interface SpfResult {
  result: SpfResultCode;
  /** The domain checked: the MAIL FROM domain, or the HELO name for the null sender. */
  domain: string;
  /** Why: the domain's exp= text (RFC 7208 section 6.2) on fail, else mailauth's comment. */
  explanation?: string;
  /** The action taken for this result. */
  action: SpfAction;
  /** A ready Authentication-Results method entry, e.g. "spf=pass (...) smtp.mailfrom=a@b.test". */
  authResults?: string;
}

const RESULTS = new Set<string>(['pass', 'fail', 'softfail', 'neutral', 'none', 'temperror', 'permerror']);

function skipReason(session: SessionView, tx: TransactionView): string | undefined {
  if (session.user !== undefined) return 'authenticated';
  if (session.trusted) return 'trusted';
  const allowed = (r: { allow?: unknown } | undefined): boolean => r?.allow === true;
  if (allowed(session.results.get('access')) || allowed(tx.results.get('access'))) return 'allowlisted';
  return undefined;
}

/** Text fit for an SMTP reply: one line, printable, at most 200 characters. */
function clean(text: string): string {
  const t = text.replace(/[\x00-\x1f\x7f]+/g, ' ').trim();
  return t.length > 200 ? `${t.slice(0, 197)}...` : t;
}

/**
 * SPF (RFC 7208) of MAIL FROM (of HELO for the null sender) with mailauth, through api.dns; and,
 * when `ptr` is not off, forward-confirmed reverse DNS of the client matched against the sender's domain.
 */
export default definePlugin<SpfPtrOptions>({
  name: 'spf-ptr',
  defaults,
  validate,
  setup(api) {
    const dns = api.dns;
    if (!dns) throw new Error('spf-ptr needs DNS: grant the "dns" permission');
    const { ptr, lookupTimeoutMs } = api.options;
    // The host replaces a nested section whole: merge so `actions: { fail: tag }` keeps the other defaults.
    const actions = { ...defaultActions, ...api.options.actions };
    const resolver = spfResolver(dns, lookupTimeoutMs);

    /** exp=domain without macros: its TXT, else undefined. */
    async function explanation(rr: string | undefined): Promise<string | undefined> {
      const exp = rr === undefined ? undefined : /(?:^|\s)exp=(\S+)/i.exec(rr)?.[1];
      if (exp === undefined || exp.includes('%')) return undefined;
      try {
        const txt = await withTimeout(dns!.resolveTxt(exp), lookupTimeoutMs, exp, 'TXT');
        const text = txt.length === 1 ? clean((txt[0] ?? []).join('')) : '';
        return text === '' ? undefined : text;
      } catch {
        return undefined;
      }
    }

    api.tap(
      'mailFrom',
      async (session, tx) => {
        if (session.protocol !== 'smtp') return undefined;
        const skipped = skipReason(session, tx);
        if (skipped !== undefined) {
          api.log.debug({ tx: tx.id, skipped }, 'spf-ptr: checks skipped');
          return undefined;
        }
        const ip = normaliseIp(session.remoteAddress);
        if (ip === '') return undefined;
        const helo = session.helo?.replace(/^\[|\]$/g, '');
        const nullSender = tx.mailFrom.address === '';
        const domain = (nullSender ? (helo ?? '') : tx.mailFrom.domain).toLowerCase();

        // ---- SPF
        let record: SpfResult;
        if (domain === '' || (nullSender && !/[a-z]/i.test(domain))) {
          // The null sender with no HELO name (or an address literal): nothing to check.
          record = { result: 'none', domain, action: actions.none };
        } else {
          const response = await spf({
            sender: nullSender ? `postmaster@${domain}` : tx.mailFrom.address,
            ip,
            ...(helo === undefined ? {} : { helo }),
            mta: api.hostname,
            resolver: resolver as never,
          });
          const code = String(response.status.result);
          const result = (RESULTS.has(code) ? code : 'temperror') as SpfResultCode;
          const comment = typeof response.status.comment === 'string' ? clean(response.status.comment) : undefined;
          const exp = result === 'fail' ? await explanation(response.rr) : undefined;
          const why = exp ?? comment;
          record = { result, domain, action: result === 'pass' ? 'accept' : actions[result] };
          if (why !== undefined) record.explanation = why;
          if (typeof response.info === 'string') record.authResults = response.info;
        }
        tx.results.set('spf', record);
        api.log.info({ tx: tx.id, ip, domain, spf: record.result, action: record.action }, 'spf-ptr: SPF checked');
        const reason = `spf-ptr: SPF ${record.result} for ${domain} from ${ip}`;
        if (record.action === 'reject') {
          return reject(`SPF check failed: ${record.explanation ?? `${domain} does not allow ${ip}`}`, { code: 550, enhanced: '5.7.23', reason });
        }
        if (record.action === 'tempfail') {
          return tempfail(`SPF check could not be completed for ${domain}, try again later`, { code: 451, enhanced: '4.7.24', reason });
        }

        // ---- PTR
        if (ptr === 'off') return undefined;
        const result: PtrResult = await checkPtr(dns, ip, domain, lookupTimeoutMs);
        tx.results.set('ptr', result);
        if (result.error !== undefined) api.log.warn({ tx: tx.id, ip, error: result.error }, 'spf-ptr: reverse DNS lookup failed');
        if (ptr !== 'reject' || result.matches) return undefined;
        const ptrReason = `spf-ptr: ${ip} reverse DNS ${result.ptr ?? '(none)'}${result.confirmed ? '' : ' (unconfirmed)'} does not match ${domain}`;
        if (result.error !== undefined) {
          return tempfail('Cannot verify the reverse DNS of your IP address, try again later', { code: 451, enhanced: '4.7.25', reason: ptrReason });
        }
        return reject("Sender domain does not match the client's reverse DNS", { code: 550, enhanced: '5.7.25', reason: ptrReason });
      },
      // Up to 10 SPF DNS lookups (plus sub-queries), then PTR and A: room beyond one lookup each.
      { stage: Stage.REPUTATION, timeoutMs: lookupTimeoutMs * 4 + 2000 },
    );
  },
});
