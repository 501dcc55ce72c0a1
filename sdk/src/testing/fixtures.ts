import type { Delivery, DeliveryRecipient, DeliveryResult } from '../delivery.js';
import type { EnvelopeAddress, SessionView, TransactionView } from '../envelope.js';
import { formatAuthResult, type AuthResult } from '../auth-results.js';
import { MapResults } from '../map-results.js';
import type { ResultsStore } from '../results.js';

/**
 * Strip `readonly` so tests can change a fixture between hook calls (e.g. set `user` after AUTH).
 * @example
 * const session: Mutable<SessionView> = h.session();
 */
export type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/**
 * A SessionView whose fields a test may change.
 * @example
 * const session = h.session();
 * await h.run('connect', session);
 * session.user = 'alice@example.test'; // as after a successful AUTH
 * await h.run('mailFrom', session, h.transaction());
 */
export type TestSession = Mutable<SessionView>;

/**
 * A TransactionView whose fields a test may change; `addedHeaders` records `addHeader` calls.
 * @example
 * const tx = h.transaction({ message: 'Subject: hi\n\nbody\n' });
 * await h.run('data', h.session(), tx);
 * assert.deepEqual(tx.addedHeaders, [['X-Spam-Score', '0.1']]);
 */
export interface TestTransaction extends Omit<Mutable<TransactionView>, 'recipients' | 'addedHeaders' | 'authResults'> {
  recipients: EnvelopeAddress[];
  addedHeaders: Array<readonly [string, string]>;
  authResults: AuthResult[];
}

/**
 * What `harness.transaction()` accepts: addresses may be plain strings, the message a string.
 * @example
 * h.transaction({ mailFrom: '<>', recipients: ['postmaster@example.test'] });
 */
export interface TransactionInit {
  id?: string;
  /** `'a@b.test'`, `'<a@b.test>'`, `''` or `'<>'` (the null sender), or a built address. */
  mailFrom?: string | EnvelopeAddress;
  recipients?: Array<string | EnvelopeAddress>;
  /** The raw message; bare LF line endings in a string are turned into CRLF like the wire has them. */
  message?: string | Buffer;
  results?: ResultsStore;
}

/**
 * What `harness.delivery()` accepts.
 * @example
 * h.delivery({ sender: 'a@b.test', recipients: ['x@local.test', 'y@remote.test'], attempt: 2 });
 */
export interface DeliveryInit {
  id?: string;
  sender?: string;
  recipients?: string[];
  message?: string | Buffer;
  attempt?: number;
  receivedAt?: number;
  results?: ResultsStore;
}

/**
 * A Delivery whose recipients a test can inspect after `run('deliver', ...)`.
 * @example
 * const d = h.delivery();
 * await h.run('deliver', d);
 * assert.equal(d.pending().length, 0);
 */
export interface TestDelivery extends Delivery {
  readonly recipients: DeliveryRecipient[];
}

export function buildAddress(input: string, params: Record<string, string | true> = {}): EnvelopeAddress {
  const address = input.trim().replace(/^<(.*)>$/, '$1');
  const at = address.lastIndexOf('@');
  // The core lower-cases only the domain; the local part keeps the client's case.
  const domain = at === -1 ? '' : address.slice(at + 1).toLowerCase();
  return { address, domain, params };
}

export function buildSession(id: string, overrides: Partial<TestSession> = {}): TestSession {
  return {
    id,
    protocol: 'smtp',
    listener: 'mx',
    // 192.0.2.0/24 is TEST-NET-1 (RFC 5737): never a real client.
    remoteAddress: '192.0.2.10',
    remotePort: 49152,
    localAddress: '192.0.2.1',
    localPort: 25,
    secure: false,
    helo: undefined,
    user: undefined,
    trusted: false,
    results: new MapResults(),
    ...overrides,
  };
}

function toAddress(value: string | EnvelopeAddress): EnvelopeAddress {
  return typeof value === 'string' ? buildAddress(value) : value;
}

function toMessage(value: string | Buffer): Buffer {
  return typeof value === 'string' ? Buffer.from(value.replace(/\r?\n/g, '\r\n')) : value;
}

export function buildTransaction(id: string, init: TransactionInit = {}): TestTransaction {
  const addedHeaders: Array<readonly [string, string]> = [];
  const authResults: AuthResult[] = [];
  const tx: TestTransaction = {
    id: init.id ?? id,
    mailFrom: toAddress(init.mailFrom ?? 'sender@example.test'),
    // Empty by default: at the mailFrom hook no recipient has been accepted yet.
    recipients: (init.recipients ?? []).map(toAddress),
    results: init.results ?? new MapResults(),
    message: init.message === undefined ? undefined : toMessage(init.message),
    addedHeaders,
    addHeader(name: string, value: string): void {
      addedHeaders.push([name, value] as const);
    },
    authResults,
    addAuthResult(result: AuthResult): void {
      formatAuthResult(result); // throws, as the core does, for what would break the header
      authResults.push(result);
    },
    replaceMessage(message: Buffer): void {
      if (!Buffer.isBuffer(message)) throw new TypeError('tx.replaceMessage(message): message must be a Buffer');
      tx.message = message;
    },
  };
  return tx;
}

export function buildDelivery(id: string, settledBy: string, init: DeliveryInit = {}): TestDelivery {
  const recipients: DeliveryRecipient[] = (init.recipients ?? ['rcpt@example.test']).map((address) => ({
    original: address,
    address,
  }));
  return {
    id: init.id ?? id,
    sender: init.sender ?? 'sender@example.test',
    receivedAt: init.receivedAt ?? Date.now(),
    recipients,
    pending: () => recipients.filter((r) => r.result === undefined),
    settle(recipient: DeliveryRecipient, result: DeliveryResult): void {
      recipient.result = { by: settledBy, ...result };
    },
    add(address: string, original: string): DeliveryRecipient {
      const added: DeliveryRecipient = { original, address };
      recipients.push(added);
      return added;
    },
    message: toMessage(init.message ?? 'Subject: test\n\nHello\n'),
    attempt: init.attempt ?? 1,
    results: init.results ?? new MapResults(),
  };
}
