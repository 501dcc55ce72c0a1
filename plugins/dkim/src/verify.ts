import { arc } from 'mailauth/lib/arc/index.js';
import { dkimVerify } from 'mailauth/lib/dkim/verify.js';
import { dmarc } from 'mailauth/lib/dmarc/index.js';
import { spf } from 'mailauth/lib/spf/index.js';
import type { AuthResult } from '@postern/sdk';
import { clientIp } from '@postern/sdk/net';
import type { ResolveByType } from '@postern/sdk/net';
import { headerBlock, headerValues } from './headers.js';
import type { DmarcOptions } from './options.js';

/** One DKIM-Signature of an inbound message, as recorded in `results.get('dkim').signatures`. */
export interface SignatureResult {
  /** pass, fail, neutral, policy (key too small), temperror, permerror. */
  result: string;
  /** d= */
  domain: string;
  /** s= */
  selector: string;
  /** i= (default `@d`) */
  identity: string;
  /** The first 8 characters of b= (tells signatures apart, RFC 6008). */
  b: string;
  algorithm: string;
  /** d= is the From domain or shares its organizational domain (relaxed alignment). */
  aligned: boolean;
  /** mailauth's reason: "bad signature", "body hash did not verify", "no key"... */
  comment?: string;
}

/** The SPF result DMARC used: the spf-ptr plugin's, else the plugin's own check. */
export interface SpfUsed {
  result: string;
  domain: string;
  source: 'spf-ptr' | 'dkim';
}

/** What p=/sp= asked for and what was done. */
export type DmarcAction = 'none' | 'reject' | 'quarantine';

export interface DmarcResult {
  /** pass, fail, none (no record), temperror, permerror (not exactly one From address). */
  result: string;
  /** The From domain. */
  domain: string;
  /** The policy that applies (sp= for a subdomain when set), when a record was found. */
  policy?: string;
  /** pct= (100 when absent). */
  pct?: number;
  /** What the result asks for after pct= sampling; whether it is applied depends on `dmarc.enforce`. */
  action: DmarcAction;
  /** The aligned identifiers: SPF's domain and DKIM's d=, when they align. */
  alignment?: { spf?: string; dkim?: string };
}

/** What `tx.results.get('dkim')` holds for inbound mail. */
export interface InboundResults {
  signatures: SignatureResult[];
  spf?: SpfUsed;
  arc?: { result: string; comment?: string };
  dmarc?: DmarcResult;
}

export interface VerifyInput {
  message: Buffer;
  /** mailauth's resolver (`lookupByType` of `@postern/sdk/net` over api.dns). */
  resolver: ResolveByType;
  minKeyBits: number;
  arc: boolean;
  dmarc: DmarcOptions;
  /** The spf-ptr plugin's `results.get('spf')`, when it ran. */
  spf: { result?: unknown; domain?: unknown } | undefined;
  /** For the plugin's own SPF check. */
  client: { ip: string; helo: string | undefined; mailFrom: string; mta: string };
  /** A number in [0, 100) for pct= sampling (Math.random() * 100). */
  sample: number;
}

/** A mailauth result word as an RFC 8601 keyword ("temperr" → "temperror"). */
function keyword(value: unknown): string {
  const v = String(value ?? '').toLowerCase();
  if (v === 'temperr') return 'temperror';
  return /^[a-z]+$/.test(v) ? v : 'permerror';
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** i= of each DKIM-Signature, keyed by its b= value (whitespace removed). */
function identities(message: Buffer): Map<string, string> {
  const map = new Map<string, string>();
  for (const value of headerValues(headerBlock(message), 'dkim-signature')) {
    const tags = new Map(
      value.split(';').map((t) => {
        const eq = t.indexOf('=');
        return [t.slice(0, eq).trim().toLowerCase(), t.slice(eq + 1).replace(/\s+/g, '')] as const;
      }),
    );
    const b = tags.get('b');
    const i = tags.get('i');
    if (b && i) map.set(b, i);
  }
  return map;
}

/** SPF for DMARC: reuse spf-ptr's result when there is one, else check MAIL FROM (HELO for <>). */
async function spfFor(input: VerifyInput): Promise<SpfUsed | undefined> {
  const known = input.spf;
  if (known && typeof known.result === 'string' && typeof known.domain === 'string') {
    return { result: known.result, domain: known.domain.toLowerCase(), source: 'spf-ptr' };
  }
  const ip = clientIp(input.client.ip);
  if (ip === '') return undefined;
  const helo = input.client.helo?.replace(/^\[|\]$/g, '');
  const nullSender = input.client.mailFrom === '';
  const domain = nullSender ? (helo ?? '') : input.client.mailFrom.slice(input.client.mailFrom.lastIndexOf('@') + 1);
  if (domain === '' || !/[a-z]/i.test(domain)) return { result: 'none', domain: domain.toLowerCase(), source: 'dkim' };
  const response = await spf({
    sender: nullSender ? `postmaster@${domain}` : input.client.mailFrom,
    ip,
    ...(helo === undefined ? {} : { helo }),
    mta: input.client.mta,
    resolver: input.resolver as never,
  });
  return { result: keyword(response.status.result), domain: domain.toLowerCase(), source: 'dkim' };
}

/** p=reject / p=quarantine after pct= sampling (RFC 7489 6.6.4: outside the sample, the next milder policy). */
function actionOf(result: string, policy: string | undefined, pct: number, sample: number, options: DmarcOptions): DmarcAction {
  if (result !== 'fail') return 'none';
  const sampled = sample < pct;
  if (policy === 'reject') return sampled ? (options.rejectAction === 'reject' ? 'reject' : 'quarantine') : 'quarantine';
  if (policy === 'quarantine') return sampled ? 'quarantine' : 'none';
  return 'none';
}

/**
 * DKIM signatures, then SPF (reused or checked), ARC and DMARC of an inbound message, with
 * mailauth over the given resolver. Returns what to record and the Authentication-Results entries.
 */
export async function verifyInbound(input: VerifyInput): Promise<{ results: InboundResults; authResults: AuthResult[] }> {
  const authResults: AuthResult[] = [];
  const dkim = await dkimVerify(input.message, { resolver: input.resolver as never, minBitLength: input.minKeyBits });
  const ids = identities(input.message);
  const signatures: SignatureResult[] = [];
  for (const r of dkim.results) {
    if (!r.signingDomain) continue; // mailauth's "message not signed" entry
    const raw = r as unknown as { signature?: string; algo?: string };
    const status = r.status as typeof r.status & { header?: { b?: unknown } };
    const b = typeof raw.signature === 'string' ? raw.signature.replace(/\s+/g, '') : '';
    const sig: SignatureResult = {
      result: keyword(status.result),
      domain: r.signingDomain.toLowerCase(),
      selector: r.selector ?? '',
      identity: ids.get(b) ?? `@${r.signingDomain}`,
      b: b.slice(0, 8),
      algorithm: raw.algo ?? '',
      aligned: Boolean(status.aligned),
    };
    const comment = text(status.comment);
    if (comment !== undefined) sig.comment = comment;
    signatures.push(sig);
    authResults.push({
      method: 'dkim',
      result: sig.result,
      ...(comment === undefined ? {} : { reason: comment }),
      props: { 'header.d': sig.domain, 'header.s': sig.selector, 'header.i': sig.identity, 'header.a': sig.algorithm, 'header.b': sig.b },
    });
  }
  if (signatures.length === 0) authResults.push({ method: 'dkim', result: 'none', reason: 'message not signed' });
  const results: InboundResults = { signatures };

  const spfUsed = await spfFor(input);
  if (spfUsed) results.spf = spfUsed;

  let arcResult: Awaited<ReturnType<typeof arc>> | undefined;
  const arcData = (dkim as unknown as { arc?: Parameters<typeof arc>[0] }).arc;
  if (input.arc && arcData) {
    arcResult = await arc(arcData, { resolver: input.resolver as never, minBitLength: input.minKeyBits });
    const result = keyword(arcResult.status.result);
    if (result !== 'none') {
      const comment = text(arcResult.status.comment);
      results.arc = { result, ...(comment === undefined ? {} : { comment }) };
      authResults.push({ method: 'arc', result, ...(comment === undefined ? {} : { reason: comment }) });
    }
  }

  const from = dkim.headerFrom ?? [];
  if (from.length !== 1) {
    const domain = '';
    results.dmarc = { result: 'permerror', domain, action: 'none' };
    authResults.push({ method: 'dmarc', result: 'permerror', reason: `${from.length} From addresses` });
    return { results, authResults };
  }
  const verdict = await dmarc({
    headerFrom: from,
    spfDomains: spfUsed?.result === 'pass' ? [spfUsed.domain] : [],
    dkimDomains: dkim.results
      .filter((r) => r.status.result === 'pass')
      .map((r) => ({ id: r.id, domain: r.signingDomain, aligned: r.status.aligned, underSized: r.status.underSized }) as never),
    ...(arcResult ? { arcResult } : {}),
    resolver: input.resolver as never,
  });
  if (verdict) {
    const fromAddress = from[0]!;
    const domain = fromAddress.slice(fromAddress.lastIndexOf('@') + 1).toLowerCase();
    const result = keyword(verdict.status.result);
    const policy = text(verdict.policy)?.toLowerCase();
    const pct = typeof verdict.pct === 'number' && verdict.pct >= 0 && verdict.pct <= 100 ? verdict.pct : 100;
    const record: DmarcResult = { result, domain, action: actionOf(result, policy, pct, input.sample, input.dmarc) };
    if (policy !== undefined) {
      record.policy = policy;
      record.pct = pct;
    }
    const spfAligned = text(verdict.alignment?.spf?.result);
    const dkimAligned = text(verdict.alignment?.dkim?.result);
    if (spfAligned !== undefined || dkimAligned !== undefined) {
      record.alignment = { ...(spfAligned === undefined ? {} : { spf: spfAligned }), ...(dkimAligned === undefined ? {} : { dkim: dkimAligned }) };
    }
    results.dmarc = record;
    const comment = text(verdict.error);
    authResults.push({
      method: 'dmarc',
      result,
      ...(comment === undefined ? {} : { reason: comment }),
      props: { 'header.from': domain, ...(policy === undefined ? {} : { 'policy.dmarc': policy }) },
    });
  }
  return { results, authResults };
}
