import { spf } from 'mailauth/lib/spf/index.js';
import { Stage, definePlugin, reject, tempfail } from '@postern/sdk';
import type { SessionView, TransactionView } from '@postern/sdk';
import { clientIp, dnsError, lookupByType, withTimeout } from '@postern/sdk/net';
import { checkPtr, iprevResult } from './ptr.js';
import type { PtrResult } from './ptr.js';
import { defaultActions, defaults, validate } from './options.js';
import type { SpfAction, SpfPtrOptions, SpfResultCode } from './options.js';

export type { PtrMode, SpfAction, SpfPtrOptions, SpfResultCode } from './options.js';
export type { IprevResult, PtrResult } from './ptr.js';
export { canonicalIp, iprevResult, nameMatches } from './ptr.js';
/** The PTR name of an address (`reverseDnsName` of `@postern/sdk/net`). */
export { reverseDnsName as reverseName } from '@postern/sdk/net';

/** What the plugin records under `tx.results.get('spf')` (the shape the greylist plugin reads). */
export interface SpfResult {
  result: SpfResultCode;
  /** The domain checked: the MAIL FROM domain, or the HELO name for the null sender. */
  domain: string;
  /** Why: the domain's exp= text (RFC 7208 section 6.2) on fail, else mailauth's comment. */
  explanation?: string;
  /** The action taken for this result. */
  action: SpfAction;
  /** mailauth's Authentication-Results method entry, e.g. "spf=pass (...) smtp.mailfrom=a@b.test" (the core's header is built from `tx.authResults`). */
  authResults?: string;
  /** The Received-SPF header value (RFC 7208 section 9.1), added at DATA when `receivedSpf` is on. */
  receivedSpf?: string;
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

/** A Received-SPF key-value: dot-atom as is, anything else a quoted string. */
function kv(key: string, value: string): string {
  const v = value.replace(/[\x00-\x1f\x7f]+/g, ' ');
  return `${key}=${/^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.@:-]+$/.test(v) && !/^\.|\.\.|\.$/.test(v) ? v : `"${v.replace(/(["\\])/g, '\\$1')}"`};`;
}

/**
 * The Received-SPF value (RFC 7208 section 9.1):
 * `pass (comment) client-ip=IP; envelope-from=A; helo=H; receiver=HOST; identity=mailfrom;`.
 */
export function receivedSpfValue(r: { result: SpfResultCode; comment?: string | undefined; ip: string; sender: string; helo?: string | undefined; receiver: string; identity: 'mailfrom' | 'helo' }): string {
  const comment = r.comment === undefined || r.comment === '' ? '' : ` (${clean(r.comment).replace(/([()\\])/g, '\\$1')})`;
  const pairs = [`client-ip=${r.ip};`];
  if (r.sender !== '') pairs.push(kv('envelope-from', r.sender));
  if (r.helo !== undefined && r.helo !== '') pairs.push(kv('helo', r.helo));
  pairs.push(kv('receiver', r.receiver), kv('identity', r.identity));
  return `${r.result}${comment} ${pairs.join(' ')}`;
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
    const { ptr, lookupTimeoutMs, receivedSpf } = api.options;
    // The host replaces a nested section whole: merge so `actions: { fail: tag }` keeps the other defaults.
    const actions = { ...defaultActions, ...api.options.actions };
    const resolver = lookupByType(dns, lookupTimeoutMs);

    /** exp=domain without macros: its TXT, else undefined. */
    async function explanation(rr: string | undefined): Promise<string | undefined> {
      const exp = rr === undefined ? undefined : /(?:^|\s)exp=(\S+)/i.exec(rr)?.[1];
      if (exp === undefined || exp.includes('%')) return undefined;
      try {
        const txt = await withTimeout(dns!.resolveTxt(exp), lookupTimeoutMs, () => dnsError('ETIMEOUT', exp, 'TXT'));
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
        const ip = clientIp(session.remoteAddress);
        if (ip === '') return undefined;
        const rawHelo = session.helo;
        const helo = rawHelo?.replace(/^\[|\]$/g, '');
        const nullSender = tx.mailFrom.address === '';
        const domain = (nullSender ? (helo ?? '') : tx.mailFrom.domain).toLowerCase();
        // Authentication-Results (RFC 8601 section 2.7.2): the identity checked.
        const identity: Record<string, string> = !nullSender ? { 'smtp.mailfrom': tx.mailFrom.address } : rawHelo ? { 'smtp.helo': rawHelo } : {};

        // ---- SPF
        let record: SpfResult;
        let expText: string | undefined;
        if (domain === '' || (nullSender && !/[a-z]/i.test(domain))) {
          // The null sender with no HELO name (or an address literal): nothing to check.
          record = { result: 'none', domain, action: actions.none };
        } else {
          const sender = nullSender ? `postmaster@${domain}` : tx.mailFrom.address;
          const response = await spf({
            sender,
            ip,
            ...(helo === undefined ? {} : { helo }),
            mta: api.hostname,
            resolver: resolver as never,
          });
          const code = String(response.status.result);
          const result = (RESULTS.has(code) ? code : 'temperror') as SpfResultCode;
          const comment = typeof response.status.comment === 'string' ? clean(response.status.comment) : undefined;
          const exp = result === 'fail' ? await explanation(response.rr) : undefined;
          expText = exp;
          const why = exp ?? comment;
          record = { result, domain, action: result === 'pass' ? 'accept' : actions[result] };
          if (why !== undefined) record.explanation = why;
          if (typeof response.info === 'string') record.authResults = response.info;
          record.receivedSpf = receivedSpfValue({
            result,
            comment,
            ip,
            sender: nullSender ? '' : sender,
            helo: rawHelo,
            receiver: api.hostname,
            identity: nullSender ? 'helo' : 'mailfrom',
          });
        }
        // The reason is the domain's own exp= text on fail (RFC 7208 section 6.2), nothing else:
        // mailauth's comment only repeats the result.
        tx.addAuthResult({ method: 'spf', result: record.result, ...(expText === undefined ? {} : { reason: expText }), props: identity });
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
        const iprev = iprevResult(result);
        const iprevReason = iprev === 'pass' ? undefined : iprev === 'permerror' ? 'no PTR record' : iprev === 'temperror' ? result.error : `${result.ptr} does not resolve to ${ip}`;
        tx.addAuthResult({ method: 'iprev', result: iprev, ...(iprevReason === undefined ? {} : { reason: iprevReason }), props: { 'policy.iprev': ip } });
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

    // Headers can only be added at DATA: the Received-SPF value was made at MAIL FROM.
    if (receivedSpf) {
      api.tap(
        'data',
        (_session, tx) => {
          const value = tx.results.get<SpfResult>('spf')?.receivedSpf;
          if (value !== undefined) tx.addHeader('Received-SPF', value);
          return undefined;
        },
        { stage: Stage.REPUTATION, timeoutMs: 1000 },
      );
    }
  },
});
