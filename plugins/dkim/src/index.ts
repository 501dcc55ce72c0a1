import { Stage, definePlugin, quarantine, reject } from '@postern/sdk';
import type { SessionView, TransactionView } from '@postern/sdk';
import { lookupByType } from '@postern/sdk/net';
import { fromDomain, headerBlock } from './headers.js';
import { KeyStore, keyPath, resolveKeyDir } from './keys.js';
import { defaultDmarc, defaults, validate } from './options.js';
import type { DkimOptions } from './options.js';
import { signMessage, spooledMessage } from './sign.js';
import type { SignRequest } from './sign.js';
import { verifyInbound } from './verify.js';

export type { DkimOptions, DmarcOptions, DomainSigning, RejectAction } from './options.js';
export type { DmarcAction, DmarcResult, InboundResults, SignatureResult, SpfUsed } from './verify.js';
export { fromDomain } from './headers.js';
export { keyPath, resolveKeyDir } from './keys.js';
export { signMessage, spooledMessage } from './sign.js';

/** What the plugin records under `tx.results.get('dkim')` for outbound mail it signed. */
export interface SignedResults {
  signed: Array<{ domain: string; selector: string; algorithm: string }>;
}

/** Outbound: an authenticated user (submission) or a trusted network (relay). */
function outbound(session: SessionView): 'authenticated' | 'trusted' | undefined {
  if (session.user !== undefined) return 'authenticated';
  if (session.trusted) return 'trusted';
  return undefined;
}

/** The From domain is the user's domain or under it (a user of example.com may sign for news.example.com). */
function ownDomain(user: string, domain: string): boolean {
  const own = user.slice(user.lastIndexOf('@') + 1).toLowerCase();
  return own !== '' && (domain === own || domain.endsWith(`.${own}`));
}

function allowlisted(session: SessionView, tx: TransactionView): boolean {
  const allowed = (r: { allow?: unknown } | undefined): boolean => r?.allow === true;
  return allowed(session.results.get('access')) || allowed(tx.results.get('access'));
}

/**
 * DKIM, ARC and DMARC for inbound mail (data hook, Stage.REPUTATION: before content scanners) and
 * DKIM signing of outbound mail (data hook, Stage.SIGN: the last change before spooling), with
 * mailauth 4 over api.dns and keys at `<keyDir>/<domain>/<selector>.key`.
 */
export default definePlugin<DkimOptions>({
  name: 'dkim',
  defaults,
  validate,
  setup(api) {
    const options = api.options;
    // The host replaces a nested section whole: merge so `dmarc: { enforce: false }` keeps the rest.
    const dmarcOptions = { ...defaultDmarc, ...options.dmarc };

    if (options.verify) {
      const dns = api.dns;
      if (!dns) throw new Error('dkim needs DNS to verify: grant the "dns" permission (or set verify: false)');
      // DKIM keys, DMARC and ARC need TXT; SPF also A, AAAA, MX and PTR.
      const resolver = lookupByType(dns, options.lookupTimeoutMs);
      api.tap(
        'data',
        async (session, tx) => {
          if (session.protocol !== 'smtp' || tx.message === undefined) return undefined;
          const skipped = outbound(session);
          if (skipped !== undefined) {
            api.log.debug({ tx: tx.id, skipped }, 'dkim: verification skipped');
            return undefined;
          }
          const { results, authResults } = await verifyInbound({
            message: tx.message,
            resolver,
            minKeyBits: options.minKeyBits,
            arc: options.arc,
            dmarc: dmarcOptions,
            spf: tx.results.get('spf'),
            client: { ip: session.remoteAddress, helo: session.helo, mailFrom: tx.mailFrom.address, mta: api.hostname },
            sample: Math.random() * 100,
          });
          tx.results.set('dkim', results);
          // spf-ptr records its own entry; add one only for an SPF check made here.
          if (results.spf?.source === 'dkim' && !tx.authResults.some((r) => r.method === 'spf')) {
            tx.addAuthResult({ method: 'spf', result: results.spf.result, props: { [tx.mailFrom.address === '' ? 'smtp.helo' : 'smtp.mailfrom']: tx.mailFrom.address || results.spf.domain } });
          }
          for (const r of authResults) tx.addAuthResult(r);
          const dmarc = results.dmarc;
          api.log.info(
            { tx: tx.id, dkim: results.signatures.map((s) => `${s.domain}:${s.result}`), arc: results.arc?.result, dmarc: dmarc?.result, policy: dmarc?.policy, action: dmarc?.action },
            'dkim: inbound checked',
          );
          if (!dmarc || dmarc.action === 'none' || !dmarcOptions.enforce) return undefined;
          if (allowlisted(session, tx)) {
            api.log.info({ tx: tx.id, domain: dmarc.domain, action: dmarc.action }, 'dkim: DMARC policy not applied to an allowlisted sender');
            return undefined;
          }
          const reason = `dkim: DMARC ${dmarc.result} for ${dmarc.domain} (p=${dmarc.policy ?? 'none'}, pct=${dmarc.pct ?? 100})`;
          if (dmarc.action === 'reject') {
            return reject(`Message rejected: ${dmarc.domain} publishes a DMARC reject policy and this message failed DMARC authentication`, {
              code: 550,
              enhanced: '5.7.1',
              reason,
            });
          }
          return quarantine({ folder: dmarcOptions.quarantineFolder, reason });
        },
        // A key per signature, SPF (up to 10 lookups), ARC keys and DMARC: room beyond one lookup each.
        { stage: Stage.REPUTATION, timeoutMs: options.lookupTimeoutMs * 8 + 2000 },
      );
    }

    if (options.sign) {
      const keyDir = resolveKeyDir(options.keyDir, api.dataDir);
      if (keyDir === undefined) {
        api.log.warn({}, 'dkim: no key directory (no dataDir and keyDir is not absolute): outbound mail is not signed');
        return;
      }
      const keys = new KeyStore();
      const settings = { headerList: options.headerList, expireSec: options.expireSec };
      api.tap(
        'data',
        async (session, tx) => {
          if (session.protocol !== 'smtp' || tx.message === undefined || outbound(session) === undefined) return undefined;
          const message = spooledMessage(tx);
          const domain = fromDomain(headerBlock(message));
          if (domain === undefined) {
            api.log.debug({ tx: tx.id }, 'dkim: not signed: no single From address with a domain');
            return undefined;
          }
          if (options.signOwnDomainOnly && session.user !== undefined && !ownDomain(session.user, domain)) {
            api.log.info({ tx: tx.id, domain, user: session.user }, "dkim: not signed: the From domain is not the user's own");
            return undefined;
          }
          const perDomain = options.domains[domain];
          if (perDomain?.sign === false) {
            api.log.debug({ tx: tx.id, domain }, 'dkim: not signed: signing is off for this domain');
            return undefined;
          }
          const requests: SignRequest[] = [];
          for (const selector of perDomain?.selectors ?? options.selectors) {
            const path = keyPath(keyDir, domain, selector);
            if (path === undefined) continue;
            try {
              const key = await keys.load(path);
              if (key) requests.push({ domain, selector, key });
            } catch (err) {
              // A broken key must not hold mail up: send it unsigned and say why.
              api.log.warn({ tx: tx.id, domain, selector, path, error: (err as Error).message }, 'dkim: cannot use the key; not signing with it');
            }
          }
          if (requests.length === 0) {
            api.log.debug({ tx: tx.id, domain, keyDir }, 'dkim: not signed: no key for the domain');
            return undefined;
          }
          const values = await signMessage(message, requests, settings);
          for (const value of values) tx.addHeader('DKIM-Signature', value);
          const signed: SignedResults = { signed: requests.map((r) => ({ domain, selector: r.selector, algorithm: r.key.algorithm })) };
          tx.results.set('dkim', signed);
          api.log.info({ tx: tx.id, domain, selectors: requests.map((r) => r.selector) }, 'dkim: signed');
          return undefined;
        },
        { stage: Stage.SIGN },
      );
    }
  },
});
