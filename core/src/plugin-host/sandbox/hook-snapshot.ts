import { isVerdict, type AuthResult, type HookName, type ResultsStore, type SessionView, type TransactionView, type Verdict } from '@postern/sdk';

/*
 * What crosses the boundary for one tap call, both ways, as JSON text: the sandbox gets fresh
 * copies (built in its own realm from the text, frozen), never a host object; what comes back is
 * parsed on the host side and checked before anything is applied.
 */

/** How each argument of a hook is copied: a session view, a transaction view, or plain data. */
type ArgKind = 's' | 't' | 'v';

const LAYOUT: Readonly<Record<HookName, readonly ArgKind[]>> = {
  connect: ['s'],
  helo: ['s', 'v'],
  auth: ['s', 'v'],
  mailFrom: ['s', 't'],
  rcptTo: ['s', 't', 'v'],
  data: ['s', 't'],
  deliver: [],
  queued: ['v'],
  delivered: ['v'],
  deferred: ['v'],
  bounced: ['v'],
};

const SESSION_FIELDS = ['id', 'protocol', 'listener', 'remoteAddress', 'remotePort', 'localAddress', 'localPort', 'secure', 'helo', 'user', 'trusted'] as const;

/** RFC 5322 field name (printable ASCII but colon), checked here too: the core's check is not ours to rely on. */
const HEADER_NAME = /^[!-9;-~]{1,76}$/;

/** Values crossing back that are bigger than this are refused (a results value, a header). */
export const MAX_EFFECT_BYTES = 64 * 1024;

export interface EncodedArgs {
  json: string;
  /** The message (data hook) as latin1 text: a string crosses by value, the sandbox makes a Buffer of it. */
  message: string | undefined;
}

function resultsData(results: ResultsStore | undefined): unknown {
  return results?.toJSON() ?? {};
}

function address(value: unknown): unknown {
  const a = value as { address?: unknown; domain?: unknown; params?: unknown } | undefined;
  return a ? { address: a.address, domain: a.domain, params: a.params ?? {} } : undefined;
}

/** Only the fields the sdk declares: a host object may carry more (internals, credentials). */
function plain(hook: HookName, index: number, value: unknown): unknown {
  if (value === undefined || value === null || typeof value !== 'object') return value;
  if (hook === 'auth') {
    const a = value as { username?: unknown; method?: unknown };
    return { username: a.username, method: a.method };
  }
  if (hook === 'rcptTo' && index === 2) return address(value);
  if (hook === 'queued' || hook === 'delivered' || hook === 'deferred' || hook === 'bounced') {
    const e = value as { id?: unknown; sender?: unknown; recipients?: Array<{ address?: unknown; result?: unknown }>; size?: unknown; attempt?: unknown };
    return { id: e.id, sender: e.sender, recipients: (e.recipients ?? []).map((r) => ({ address: r.address, result: r.result })), size: e.size, attempt: e.attempt };
  }
  return value;
}

/** Copy a hook's arguments into the JSON the sandbox rebuilds its views from. */
export function encodeArgs(hook: HookName, args: readonly unknown[]): EncodedArgs {
  const layout = LAYOUT[hook];
  const out: unknown[] = [];
  let message: string | undefined;
  for (let i = 0; i < layout.length; i++) {
    const value = args[i];
    if (layout[i] === 's') {
      const s = value as SessionView;
      const data: Record<string, unknown> = {};
      for (const field of SESSION_FIELDS) data[field] = s[field];
      data.results = resultsData(s.results);
      out.push(['s', data]);
    } else if (layout[i] === 't') {
      const tx = value as TransactionView;
      out.push([
        't',
        {
          id: tx.id,
          mailFrom: address(tx.mailFrom),
          recipients: tx.recipients.map(address),
          results: resultsData(tx.results),
          addedHeaders: tx.addedHeaders.map(([name, v]) => [name, v]),
          authResults: tx.authResults,
        },
      ]);
      if (hook === 'data' && tx.message) message = tx.message.toString('latin1');
    } else {
      out.push(value === undefined ? ['u'] : ['v', plain(hook, i, value)]);
    }
  }
  return { json: JSON.stringify(out), message };
}

/**
 * A change a tap asked for; rejected ones are reported, never applied. Scopes: 's'/'t' a results
 * value (JSON) of the session/transaction, 'h' a header, 'a' an auth result (JSON), 'm' the
 * replaced message (latin1).
 */
export type Effect = readonly [scope: EffectScope, key: string, value: string];
type EffectScope = 's' | 't' | 'h' | 'a' | 'm';
const EFFECT_SCOPES: ReadonlySet<string> = new Set<EffectScope>(['s', 't', 'h', 'a', 'm']);

export interface Answer {
  verdict: unknown;
  effects: Effect[];
}

/** Parse an 'R' answer's JSON; shapes that are not ours are an error. */
export function parseAnswer(json: string): Answer {
  const parsed = JSON.parse(json) as { v?: unknown; fx?: unknown };
  const effects: Effect[] = [];
  if (Array.isArray(parsed.fx)) {
    for (const e of parsed.fx as unknown[]) {
      if (Array.isArray(e) && e.length === 3 && EFFECT_SCOPES.has(e[0] as string) && typeof e[1] === 'string' && typeof e[2] === 'string') {
        effects.push(e as unknown as Effect);
      }
    }
  }
  return { verdict: parsed.v, effects };
}

/**
 * Apply a tap's recorded writes to the real session/transaction. A plugin writes only results
 * under its own name (so it cannot forge another plugin's findings, e.g. an SPF pass a greylist
 * trusts) and headers the core accepts. Returns what was refused, for the log.
 */
export function applyEffects(hook: HookName, args: readonly unknown[], effects: readonly Effect[], plugin: string, messageLimit: number): string[] {
  const layout = LAYOUT[hook];
  const session = layout[0] === 's' ? (args[0] as SessionView) : undefined;
  const tx = layout[1] === 't' ? (args[1] as TransactionView) : undefined;
  const refused: string[] = [];
  for (const [scope, key, value] of effects) {
    if (scope === 'm') {
      if (!tx || hook !== 'data') refused.push('message: only the data hook may replace the message');
      else if (value.length > messageLimit) refused.push(`message: larger than ${messageLimit} bytes`);
      else tx.replaceMessage(Buffer.from(value, 'latin1'));
      continue;
    }
    if (value.length > MAX_EFFECT_BYTES) {
      refused.push(`${scope === 'h' ? 'header' : 'results'} ${key}: larger than ${MAX_EFFECT_BYTES} bytes`);
      continue;
    }
    if (scope === 'h') {
      if (!tx || hook !== 'data') {
        refused.push(`header ${key}: headers can only be added in the data hook`);
        continue;
      }
      if (!HEADER_NAME.test(key)) {
        refused.push(`header ${JSON.stringify(key).slice(0, 80)}: not a header field name`);
        continue;
      }
      try {
        tx.addHeader(key, value);
      } catch (err) {
        refused.push(`header ${key}: ${(err as Error).message}`);
      }
      continue;
    }
    if (scope === 'a') {
      if (!tx) {
        refused.push(`auth result ${key}: this hook has no transaction`);
        continue;
      }
      try {
        tx.addAuthResult(JSON.parse(value) as AuthResult);
      } catch (err) {
        refused.push(`auth result ${key}: ${(err as Error).message}`);
      }
      continue;
    }
    if (key !== plugin && !key.startsWith(`${plugin}.`)) {
      refused.push(`results ${key}: not this plugin's key`);
      continue;
    }
    const store = scope === 's' ? session?.results : tx?.results;
    if (!store) {
      refused.push(`results ${key}: this hook has no ${scope === 's' ? 'session' : 'transaction'}`);
      continue;
    }
    store.set(key, JSON.parse(value));
  }
  return refused;
}

/**
 * A sandbox's verdict as a fresh host object with only the Verdict fields (`by` is the core's to
 * set). Anything that is not a verdict is returned as the plain data it is, so the tap guard
 * reports it as PLUGIN_BAD_VERDICT exactly as for a trusted plugin.
 */
export function copyVerdict(value: unknown): Verdict | unknown {
  if (value === undefined || !isVerdict(value)) return value;
  const v = value as Verdict;
  const out: Verdict = { action: v.action };
  if (v.code !== undefined) out.code = v.code;
  if (v.enhanced !== undefined) out.enhanced = v.enhanced;
  if (v.message !== undefined) out.message = v.message;
  if (typeof v.reason === 'string') out.reason = v.reason;
  if (typeof v.folder === 'string') out.folder = v.folder;
  return out;
}
