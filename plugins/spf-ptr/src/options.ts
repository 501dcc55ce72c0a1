export type SpfResultCode = 'pass' | 'fail' | 'softfail' | 'neutral' | 'none' | 'temperror' | 'permerror';
/** reject: 550 5.7.23; tempfail: 451 4.7.24; tag and accept: accept (the result is recorded and written to the headers either way). */
export type SpfAction = 'reject' | 'tempfail' | 'tag' | 'accept';
export type PtrMode = 'off' | 'header-only' | 'reject';

export interface SpfPtrOptions {
  /** What each non-pass SPF result does (pass always accepts). Keys not given keep their defaults. */
  actions: Partial<Record<Exclude<SpfResultCode, 'pass'>, SpfAction>>;
  ptr: PtrMode;
  /** Per DNS query made for SPF or PTR. */
  lookupTimeoutMs: number;
  /** Add a Received-SPF header (RFC 7208 section 9.1) to accepted messages. */
  receivedSpf: boolean;
}

export const defaultActions: Record<Exclude<SpfResultCode, 'pass'>, SpfAction> = {
  fail: 'reject',
  softfail: 'tag',
  neutral: 'accept',
  none: 'accept',
  temperror: 'tempfail',
  permerror: 'accept',
};

export const defaults: SpfPtrOptions = {
  actions: { ...defaultActions },
  ptr: 'off',
  lookupTimeoutMs: 3000,
  receivedSpf: true,
};

const ACTIONS = new Set<string>(['reject', 'tempfail', 'tag', 'accept']);
const PTR_MODES = new Set<string>(['off', 'header-only', 'reject']);

/** "key: reason" errors, one per problem. */
export function validate(options: SpfPtrOptions): string[] {
  const errors: string[] = [];
  const actions = options.actions as unknown;
  if (typeof actions !== 'object' || actions === null || Array.isArray(actions)) errors.push('actions: must be a map of SPF result to action');
  else {
    for (const [key, value] of Object.entries(actions)) {
      if (!(key in defaultActions)) errors.push(`actions.${key}: unknown SPF result (expected fail, softfail, neutral, none, temperror or permerror)`);
      else if (typeof value !== 'string' || !ACTIONS.has(value)) errors.push(`actions.${key}: must be reject, tempfail, tag or accept`);
    }
  }
  if (!PTR_MODES.has(options.ptr)) errors.push('ptr: must be off, header-only or reject');
  if (!Number.isInteger(options.lookupTimeoutMs) || options.lookupTimeoutMs < 1) errors.push('lookupTimeoutMs: must be a positive integer');
  if (typeof options.receivedSpf !== 'boolean') errors.push('receivedSpf: must be true or false');
  return errors;
}
