/** What a DMARC `fail` with `p=reject` does when `dmarc.enforce` is on. */
export type RejectAction = 'reject' | 'quarantine';

export interface DmarcOptions {
  /** Act on the sender domain's policy (p=/sp=, pct=); off: evaluate and record only. */
  enforce: boolean;
  /** p=reject: `reject` (550 5.7.1) or `quarantine` (deliver into `quarantineFolder`). */
  rejectAction: RejectAction;
  /** The folder p=quarantine (and a `quarantine` rejectAction) delivers into. */
  quarantineFolder: string;
}

/** Per-domain signing settings (`domains.<domain>`). */
export interface DomainSigning {
  /** Selectors to sign with for this domain (each whose key file exists signs). */
  selectors?: string[];
  /** false: never sign this domain's mail. */
  sign?: boolean;
}

export interface DkimOptions {
  /** Verify inbound DKIM and evaluate ARC and DMARC (not for authenticated or trusted senders). */
  verify: boolean;
  /** Sign mail of authenticated or trusted senders with the From domain's key. */
  sign: boolean;
  /**
   * An authenticated user's mail is signed only when the From domain is the user's own domain (or
   * under it), so one customer of a shared server cannot get another's signature. Trusted
   * networks (relay) are not limited. false: any domain with a key.
   */
  signOwnDomainOnly: boolean;
  /** Where the keys are: `<keyDir>/<domain>/<selector>.key`. '' → `<dataDir>/dkim`; relative → under dataDir. */
  keyDir: string;
  /** Selectors tried for every domain, in order; each one whose key file exists signs. */
  selectors: string[];
  /** Per-domain overrides, by lower-case domain. */
  domains: Record<string, DomainSigning>;
  /** Header fields to sign; empty: mailauth's list (From, To, Subject, Date, Message-ID, MIME...). */
  headerList: string[];
  /** Signature lifetime (x= tag) in seconds; 0: no expiry. */
  expireSec: number;
  /** Smallest public key (bits) an inbound RSA signature may use; smaller ones count as `policy`. */
  minKeyBits: number;
  dmarc: DmarcOptions;
  /** Validate ARC chains (RFC 8617) of inbound mail and record the result. */
  arc: boolean;
  /** Per DNS query (DKIM keys, SPF, DMARC, ARC). */
  lookupTimeoutMs: number;
}

export const defaultDmarc: DmarcOptions = { enforce: true, rejectAction: 'reject', quarantineFolder: 'Junk' };

export const defaults: DkimOptions = {
  verify: true,
  sign: true,
  signOwnDomainOnly: true,
  keyDir: '',
  selectors: ['postern'],
  domains: {},
  headerList: [],
  expireSec: 0,
  minKeyBits: 1024,
  dmarc: { ...defaultDmarc },
  arc: true,
  lookupTimeoutMs: 3000,
};

/** A DNS label usable as a selector (and as a file name): letters, digits, '-', '_', dots between labels. */
export const SELECTOR = /^[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62})(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62}))*$/;
/** A domain name as a key folder name: no '..', no '/', no leading dot. */
export const DOMAIN = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,62})(?:\.[a-z0-9](?:[a-z0-9-]{0,62}))*$/;
const HEADER_NAME = /^[!-9;-~]+$/;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function checkSelectors(value: unknown, key: string, errors: string[]): void {
  if (!Array.isArray(value)) {
    errors.push(`${key}: must be a list of selectors`);
    return;
  }
  value.forEach((s, i) => {
    if (typeof s !== 'string' || !SELECTOR.test(s)) errors.push(`${key}[${i}]: ${JSON.stringify(s)} is not a selector (letters, digits, - and _)`);
  });
}

/** "key: reason" errors, one per problem. */
export function validate(options: DkimOptions): string[] {
  const errors: string[] = [];
  for (const key of ['verify', 'sign', 'signOwnDomainOnly', 'arc'] as const) if (typeof options[key] !== 'boolean') errors.push(`${key}: must be true or false`);
  if (typeof options.keyDir !== 'string') errors.push('keyDir: must be a path (or "" for <dataDir>/dkim)');
  checkSelectors(options.selectors, 'selectors', errors);
  if (!isRecord(options.domains)) errors.push('domains: must be a map of domain to { selectors, sign }');
  else {
    for (const [domain, entry] of Object.entries(options.domains)) {
      const key = `domains.${domain}`;
      if (!DOMAIN.test(domain)) errors.push(`${key}: not a lower-case domain name`);
      if (!isRecord(entry)) {
        errors.push(`${key}: must be { selectors?, sign? }`);
        continue;
      }
      for (const k of Object.keys(entry)) if (k !== 'selectors' && k !== 'sign') errors.push(`${key}.${k}: unknown option (selectors, sign)`);
      if (entry.selectors !== undefined) checkSelectors(entry.selectors, `${key}.selectors`, errors);
      if (entry.sign !== undefined && typeof entry.sign !== 'boolean') errors.push(`${key}.sign: must be true or false`);
    }
  }
  if (!Array.isArray(options.headerList) || options.headerList.some((h) => typeof h !== 'string' || !HEADER_NAME.test(h))) {
    errors.push('headerList: must be a list of header field names');
  } else if (options.headerList.length > 0 && !options.headerList.some((h) => h.toLowerCase() === 'from')) {
    errors.push('headerList: must include From (RFC 6376 section 5.4)');
  }
  if (!Number.isInteger(options.expireSec) || options.expireSec < 0) errors.push('expireSec: must be a whole number of seconds (0: no expiry)');
  if (!Number.isInteger(options.minKeyBits) || options.minKeyBits < 512) errors.push('minKeyBits: must be an integer >= 512');
  if (!Number.isInteger(options.lookupTimeoutMs) || options.lookupTimeoutMs < 1) errors.push('lookupTimeoutMs: must be a positive integer');
  const dmarc = options.dmarc as unknown;
  if (!isRecord(dmarc)) errors.push('dmarc: must be { enforce, rejectAction, quarantineFolder }');
  else {
    for (const k of Object.keys(dmarc)) if (!(k in defaultDmarc)) errors.push(`dmarc.${k}: unknown option (enforce, rejectAction, quarantineFolder)`);
    if (dmarc.enforce !== undefined && typeof dmarc.enforce !== 'boolean') errors.push('dmarc.enforce: must be true or false');
    if (dmarc.rejectAction !== undefined && dmarc.rejectAction !== 'reject' && dmarc.rejectAction !== 'quarantine') {
      errors.push('dmarc.rejectAction: must be reject or quarantine');
    }
    if (dmarc.quarantineFolder !== undefined && (typeof dmarc.quarantineFolder !== 'string' || dmarc.quarantineFolder.trim() === '')) {
      errors.push('dmarc.quarantineFolder: must be a folder name');
    }
  }
  return errors;
}
