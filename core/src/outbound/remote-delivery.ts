import { isIP } from 'node:net';
import type { Resolver } from 'node:dns/promises';
import { DeliverStage, type Delivery, type DeliveryRecipient } from '@postern/sdk';
import type { Logger } from 'pino';
import type { PosternConfig, SmarthostConfig } from '../config/types.js';
import { ErrorCode } from '../errors.js';
import type { Pipeline } from '../pipeline/pipeline.js';
import type { ConnectionLimits } from './connection-limits.js';
import { resolveMx, type MxHost } from './mx-resolver.js';
import { domainOf, routeFor } from './route.js';
import type { SessionCache } from './session-cache.js';
import { closeSession, openSession, sendOn, type RecipientReply, type SendTarget, type SmtpSession } from './smtp-send.js';

/** At most this many addresses are tried for one domain in one attempt (Postfix: smtp_mx_address_limit). */
const MAX_ADDRESSES_PER_ATTEMPT = 5;
/** The guard's limit for the whole tap: it waits for connection slots and slow remote hosts. */
const TAP_TIMEOUT_MS = 60 * 60 * 1000;

export interface RemoteDeliveryDeps {
  config: Pick<PosternConfig, 'hostname' | 'outbound'>;
  resolver: Resolver;
  limits: ConnectionLimits;
  /** Idle sessions from earlier messages, reused for the next one to the same target. */
  sessions: SessionCache;
  log: Logger;
  /** Called before the first connection of an attempt, with the recipients about to be tried (the queue records them as in flight). */
  beforeSend(delivery: Delivery, recipients: DeliveryRecipient[]): Promise<void>;
}

/**
 * The outbound transport, registered as the `deliver` tap at DeliverStage.REMOTE: whatever the
 * taps before it (routing, local delivery) left pending is remote mail. Recipients are grouped by
 * domain; each domain gets one SMTP transaction carrying all its recipients, to its relay or to
 * its MX hosts in order, the next host when one cannot be reached. Each recipient is settled with
 * the remote's reply: 2xx delivered, 4xx deferred, 5xx failed.
 */
export function registerRemoteDelivery(pipeline: Pipeline, deps: RemoteDeliveryDeps): void {
  pipeline.tap('deliver', (delivery) => deliverRemote(delivery, deps), { plugin: 'core', timeoutMs: TAP_TIMEOUT_MS, failOpen: false }, { stage: DeliverStage.REMOTE });
}

async function deliverRemote(delivery: Delivery, deps: RemoteDeliveryDeps): Promise<void> {
  const pending = delivery.pending();
  if (pending.length === 0) return;
  await deps.beforeSend(delivery, pending);
  const byDomain = new Map<string, DeliveryRecipient[]>();
  for (const r of pending) {
    const domain = domainOf(r.address);
    byDomain.set(domain, [...(byDomain.get(domain) ?? []), r]);
  }
  await Promise.all([...byDomain].map(([domain, recipients]) => deliverDomain(delivery, domain, recipients, deps)));
}

async function deliverDomain(delivery: Delivery, domain: string, recipients: DeliveryRecipient[], deps: RemoteDeliveryDeps): Promise<void> {
  const settleAll = (reply: RecipientReply, destination?: string) => {
    for (const r of recipients) delivery.settle(r, { ...reply, ...(destination ? { destination } : {}) });
  };
  const targets = await targetsFor(domain, deps);
  if (!Array.isArray(targets)) return settleAll(targets);

  const { outbound, hostname } = deps.config;
  const settings = { hostname, connectTimeoutMs: outbound.connectTimeoutMs, socketTimeoutMs: outbound.socketTimeoutMs, ...(outbound.localAddress ? { localAddress: outbound.localAddress } : {}) };
  const addresses = recipients.map((r) => r.address);
  let last: RecipientReply | undefined;
  for (const target of targets.slice(0, MAX_ADDRESSES_PER_ATTEMPT)) {
    const where = `${target.name} [${target.address}]:${target.port}`;
    const key = sessionKey(target);
    const release = await deps.limits.acquire(`${target.address}:${target.port}`);
    let session: SmtpSession | undefined;
    let replies: Map<string, RecipientReply>;
    try {
      session = deps.sessions.take(key);
      replies = session ? await sendOn(session, delivery.sender, addresses, delivery.message) : new Map();
      // A cached session the server had closed meanwhile: nothing was decided, open a new one.
      if (session && session.broken && [...replies.values()].every((r) => r.connectionLost)) {
        closeSession(session);
        session = undefined;
      }
      if (!session) {
        const opened = await openSession(target, settings);
        if (!opened.ok) {
          last = opened.reply;
          deps.log.warn({ queueId: delivery.id, domain, host: where, code: ErrorCode.REMOTE_UNREACHABLE, reply: opened.reply.message }, 'remote host failed, trying the next one');
          continue;
        }
        session = opened.session;
        replies = await sendOn(session, delivery.sender, addresses, delivery.message);
      }
      deps.sessions.put(key, session);
    } finally {
      release();
    }
    for (const r of recipients) {
      const { connectionLost: _, ...reply } = replies.get(r.address) ?? { status: 'deferred' as const, code: 451, enhanced: '4.4.0', message: 'No reply for this recipient' };
      delivery.settle(r, { ...reply, destination: session.secure ? `${where} (TLS)` : where });
    }
    return;
  }
  settleAll(last ?? { status: 'deferred', code: 451, enhanced: '4.4.1', message: `No host of ${domain} could be reached` });
}

/** Where to connect for `domain`, in order; or the reason there is nowhere to go. */
async function targetsFor(domain: string, deps: RemoteDeliveryDeps): Promise<SendTarget[] | RecipientReply> {
  const { outbound } = deps.config;
  const route = routeFor(domain, outbound);
  if (route.kind === 'relay') return relayTargets(route.relay, deps.resolver);
  const mx = await resolveMx(deps.resolver, domain);
  if (!mx.ok) return { status: mx.permanent ? 'failed' : 'deferred', code: mx.code, enhanced: mx.enhanced, message: mx.message };
  return mx.hosts.flatMap((host: MxHost) =>
    host.addresses.map((address) => ({
      address,
      port: outbound.port,
      name: host.name,
      implicitTls: false,
      starttls: outbound.tls,
      // Opportunistic TLS to MX hosts does not check certificates (RFC 7435); "required" means encrypted.
      verifyCertificate: false,
    })),
  );
}

async function relayTargets(relay: SmarthostConfig, resolver: Resolver): Promise<SendTarget[] | RecipientReply> {
  let addresses: string[];
  if (isIP(relay.host)) addresses = [relay.host];
  else {
    const found = await Promise.allSettled([resolver.resolve4(relay.host), resolver.resolve6(relay.host)]);
    addresses = found.flatMap((r) => (r.status === 'fulfilled' ? r.value : []));
    if (addresses.length === 0) return { status: 'deferred', code: 451, enhanced: '4.4.3', message: `Cannot resolve the relay ${relay.host}` };
  }
  return addresses.map((address) => ({
    address,
    port: relay.port,
    name: relay.host,
    implicitTls: relay.tls === 'implicit',
    starttls: relay.tls === 'starttls' ? 'required' : 'none',
    verifyCertificate: relay.verifyCertificate,
    ...(relay.auth ? { auth: relay.auth } : {}),
  }));
}

/** Sessions are shared only between messages that would open the very same one. */
function sessionKey(target: SendTarget): string {
  return [target.address, target.port, target.implicitTls ? 'tls' : target.starttls, target.verifyCertificate ? 'verify' : '', target.auth?.user ?? '', target.name].join('|');
}
