/**
 * The queue over time: the retry schedule, expiry and delay warnings (DSNs), no bounce to the
 * null sender, `postern queue ...`, the `deferred` event moving a retry, and SIGKILL at the worst
 * moments. Remote servers are real SMTP servers on loopback (test/support/smtp-peer.ts); DNS is a
 * real dnsmasq.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  ANN,
  createEnv,
  PASSWORD,
  WORLD,
  makeMessage,
  postern,
  posternOk,
  sendWithNodemailer,
  startDns,
  startSmtpPeer,
  type Env,
  type EnvOptions,
  type SmtpPeerOptions,
} from './support/index.js';
import type { Cleanup } from './support/tmp.js';

const REMOTE = 'bob@remote.test';

async function submit(env: Env, to: string[] = [REMOTE], from = ANN): Promise<string> {
  const message = makeMessage({ from: from || 'nobody@example.test', to: to[0]! });
  const sent = await sendWithNodemailer({ port: env.ports.submission!, requireTLS: true, auth: { user: ANN, pass: PASSWORD }, from, to, raw: message.bytes });
  assert.ok(sent.queueId, sent.response);
  return sent.queueId;
}

/** A peer as remote.test's MX, and a Postern on a fast schedule pointed at it. */
async function world(t: Cleanup, peerOptions: SmtpPeerOptions, queue: Record<string, unknown> = {}, more: Partial<EnvOptions> = {}) {
  const peer = await startSmtpPeer(t, peerOptions);
  const dns = await startDns(t, { mx: [{ domain: 'remote.test', host: 'mx.remote.test', preference: 10 }], a: [{ name: 'mx.remote.test', address: '127.0.0.1' }] });
  const env = await createEnv(t, {
    ...WORLD,
    ...more,
    extra: {
      dns: { servers: [dns.server], timeoutMs: 1000 },
      outbound: { port: peer.port, connectTimeoutMs: 2000 },
      queue: { retryIntervalSec: 1, backoff: 1, minTimeInQueueSec: 0, delayWarningSec: 0, ...queue },
    },
  });
  return { peer, env };
}

const tempfail: SmtpPeerOptions = { rcpt: () => ({ code: 451, message: '4.3.0 Try again later' }) };

async function queueList(env: Env): Promise<Array<Record<string, unknown>>> {
  return JSON.parse((await posternOk(['queue', 'list', '--json'], { config: env.configPath })).stdout) as Array<Record<string, unknown>>;
}

async function waitForQueue(env: Env, predicate: (list: Array<Record<string, unknown>>) => boolean, timeoutMs = 8000): Promise<Array<Record<string, unknown>>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const list = await queueList(env);
    if (predicate(list)) return list;
    if (Date.now() > deadline) throw new Error(`queue never matched: ${JSON.stringify(list)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function dsnsIn(env: Env) {
  return env.mailbox(ANN).then((box) => box.map((m) => m.data.toString('latin1').replace(/\r\n[ \t]+/g, ' ')));
}

test('a 4xx defers and retries on the schedule; after maxTimeInQueueSec it bounces, after a delay warning', async (t) => {
  const { peer, env } = await world(t, tempfail, { maxTimeInQueueSec: 3, delayWarningSec: 1 });
  const id = await submit(env);
  const first = await env.server.waitForDelivery(id, REMOTE);
  assert.equal(first.status, 'deferred');
  assert.equal(first.code, 451);

  const warning = await env.server.waitForLog((l) => l.msg === 'delay warning queued' && l.original === id, 8000);
  const final = await env.server.waitForLog((l) => l.msg === 'delivery' && l.queueId === id && l.status === 'failed', 10_000);
  assert.ok(Number(final.attempt) >= 3, `retried until it expired (attempt ${final.attempt})`);
  assert.match(String(final.reply), /^Gave up after .* days in the queue; last error: Try again later/);
  const bounce = await env.server.waitForLog((l) => l.msg === 'bounce queued' && l.original === id);
  await env.server.waitForDelivery(String(bounce.queueId), ANN);
  await env.server.waitForDelivery(String(warning.queueId), ANN);

  const dsns = await dsnsIn(env);
  assert.equal(dsns.length, 2, 'a delay warning, then the bounce');
  const delay = dsns.find((d) => /^Subject: Delivery Status Notification \(Delay\)\r?$/m.test(d));
  assert.ok(delay, 'the delay warning');
  assert.match(delay, /^Action: delayed\r?$/m);
  assert.match(delay, /^Will-Retry-Until: /m);
  const failure = dsns.find((d) => /^Subject: Undelivered Mail Returned to Sender\r?$/m.test(d));
  assert.ok(failure, 'the bounce');
  assert.match(failure, /^Action: failed\r?$/m);
  assert.match(failure, /^Diagnostic-Code: smtp; 451 4\.3\.0 /m);
  assert.equal(peer.received.length, 0);
  assert.deepEqual(await queueList(env), [], 'the expired message left the queue');
});

test('never a bounce to the null sender: a DSN that cannot be delivered is dropped and logged', async (t) => {
  const { env } = await world(t, { rcpt: () => ({ code: 550, message: '5.1.1 No such user' }) });
  // A null-sender message (as a DSN from elsewhere would be) relayed by ann's authenticated session.
  const id = await submit(env, [REMOTE], '');
  const line = await env.server.waitForDelivery(id, REMOTE);
  assert.equal(line.status, 'failed');
  const suppressed = await env.server.waitForLog((l) => l.code === 'POSTERN_BOUNCE_SUPPRESSED' && l.queueId === id);
  assert.equal(suppressed.reason, 'null sender');
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(env.server.find((l) => l.msg === 'bounce queued').length, 0);
  assert.deepEqual(await env.mailbox(ANN), []);
});

test('postern queue list/show/hold/release/retry/delete behave as documented', async (t) => {
  const { peer, env } = await world(t, tempfail, { retryIntervalSec: 3600, maxRetryIntervalSec: 3600 });
  const cli = (args: string[]) => posternOk(['queue', ...args], { config: env.configPath });
  const a = await submit(env, [REMOTE, 'carol@remote.test']);
  const b = await submit(env);
  await env.server.waitForDelivery(a, REMOTE);
  await env.server.waitForDelivery(b, REMOTE);
  const list = await waitForQueue(env, (l) => l.length === 2 && l.every((m) => m.status === 'deferred'));
  const entryA = list.find((m) => m.id === a)!;
  assert.equal(entryA.sender, ANN);
  assert.deepEqual(entryA.recipients, [REMOTE, 'carol@remote.test']);
  assert.equal(entryA.attempts, 1);
  assert.equal(entryA.lastCode, 451);
  assert.equal(entryA.lastEnhanced, '4.3.0');
  assert.equal(entryA.lastError, 'Try again later');
  assert.ok(Number(entryA.size) > 0);

  const table = (await cli(['list'])).stdout;
  assert.match(table, /^ID\s+SENDER\s+RECIPIENTS\s+SIZE\s+AGE\s+ATTEMPTS\s+STATUS\s+LAST ERROR/m);
  assert.match(table, new RegExp(`^${a}\\s+ann@example\\.test\\s+bob@remote\\.test, carol@remote\\.test\\s.*\\s1\\s+deferred\\s+451 4\\.3\\.0 Try again later$`, 'm'));

  const shown = (await cli(['show', a])).stdout;
  assert.match(shown, /^status:\s+deferred$/m);
  assert.match(shown, /^carol@remote\.test\s+remote\.test\s+deferred\s+1\s+451 4\.3\.0 Try again later\s+mx\.remote\.test \[127\.0\.0\.1\]/m);
  const json = JSON.parse((await cli(['show', a, '--json'])).stdout) as { recipients: Array<{ address: string; status: string }> };
  assert.deepEqual(json.recipients.map((r) => [r.address, r.status]), [[REMOTE, 'deferred'], ['carol@remote.test', 'deferred']]);

  // hold: a retry does nothing to a held message; release + retry sends it now.
  assert.match((await cli(['hold', a])).stdout, new RegExp(`held 1 message: ${a}`));
  assert.equal((await queueList(env)).find((m) => m.id === a)!.status, 'held');
  let since = env.server.logs.length;
  await cli(['retry', '--all']);
  await env.server.waitForLog((l) => l.msg === 'delivery' && l.queueId === b, 5000, since, 'the retry of b');
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(env.server.logs.slice(since).filter((l) => l.msg === 'delivery' && l.queueId === a).length, 0, 'the held message was not tried');
  await cli(['release', a]);
  since = env.server.logs.length;
  await cli(['retry', a]);
  const retried = await env.server.waitForLog((l) => l.msg === 'delivery' && l.queueId === a, 5000, since, 'the retry of a');
  assert.equal(retried.attempt, 2);

  // delete: gone from the queue and from the spool, no bounce; `--all` clears the rest.
  await waitForQueue(env, (l) => l.every((m) => m.status === 'deferred'));
  assert.match((await cli(['delete', a])).stdout, /deleted 1 message/);
  assert.ok(!existsSync(join(env.dataDir, 'spool', 'deferred', a)), 'the spool file is removed');
  assert.deepEqual((await queueList(env)).map((m) => m.id), [b]);
  await cli(['flush']);
  assert.match((await cli(['delete', '--all'])).stdout, /deleted 1 message/);
  assert.deepEqual(await queueList(env), []);
  assert.equal(await env.restartCountRecovered(), 0, 'nothing left in the spool either');
  assert.deepEqual(await env.mailbox(ANN), [], 'deleting does not bounce');
  assert.equal(peer.received.length, 0);

  // Errors: an unknown id, or both an id and --all.
  const missing = await postern(['queue', 'show', 'NOSUCHID'], { config: env.configPath });
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /POSTERN_QUEUE_NOT_FOUND|no message NOSUCHID in the queue/);
  const both = await postern(['queue', 'retry', a, '--all'], { config: env.configPath });
  assert.equal(both.code, 2);
});

test('a plugin on the deferred event moves the retry; delivered and bounced events carry each recipient\'s result', async (t) => {
  let attempts = 0;
  const { env } = await world(
    t,
    { rcpt: (address) => (address.startsWith('gone@') ? { code: 550, message: '5.1.1 No such user' } : address === REMOTE && attempts++ === 0 ? { code: 450, message: '4.2.1 Busy' } : undefined) },
    // By the schedule the retry would be an hour away; the plugin asks for one second.
    { retryIntervalSec: 3600, maxRetryIntervalSec: 3600 },
    {
      testPlugins: {
        'retry-soon': `
          export default {
            setup(api) {
              api.tap('deferred', (event) => {
                api.log.info({ nextAttemptAt: event.nextAttemptAt, codes: event.recipients.map((r) => r.result && r.result.code) }, 'deferred event');
                event.retryAt(Date.now() + 1000);
              });
              api.tap('delivered', (event) => api.log.info({ to: event.recipients.map((r) => r.address), attempt: event.attempt }, 'delivered event'));
              api.tap('bounced', (event) => api.log.info({ to: event.recipients.map((r) => r.address), codes: event.recipients.map((r) => r.result.code) }, 'bounced event'));
            },
          };`,
      },
      plugins: { 'retry-soon': { enabled: true } },
    },
  );
  const started = Date.now();
  const id = await submit(env, [REMOTE, 'ok@remote.test', 'gone@remote.test']);
  const deferred = await env.server.waitForLog((l) => l.msg === 'deferred event');
  assert.deepEqual(deferred.codes, [450]);
  assert.ok(Number(deferred.nextAttemptAt) - started >= 3_500_000, 'the schedule said an hour');
  const bounced = await env.server.waitForLog((l) => l.msg === 'bounced event');
  assert.deepEqual(bounced.to, ['gone@remote.test']);
  assert.deepEqual(bounced.codes, [550]);
  // (The bounce to ann is delivered too, and fires its own `delivered` event.)
  const delivered = await env.server.waitForLog((l) => l.msg === 'delivered event' && Array.isArray(l.to) && l.to.includes(REMOTE), 8000);
  assert.deepEqual(delivered.to, [REMOTE], 'the retry reports only what it delivered, not ok@ again');
  assert.equal(delivered.attempt, 2);
  const remoteEvents = env.server.find((l) => l.msg === 'delivered event' && Array.isArray(l.to) && !l.to.includes(ANN));
  assert.deepEqual(remoteEvents.map((l) => [l.attempt, l.to]), [[1, ['ok@remote.test']], [2, [REMOTE]]]);
  assert.ok(Date.now() - started < 6000, 'retried about a second later, as the plugin asked');
  const lines = env.server.find((l) => l.msg === 'delivery' && l.queueId === id && l.to === REMOTE);
  assert.deepEqual(lines.map((l) => l.status), ['deferred', 'delivered']);
});

test('SIGKILL while the remote is answering DATA: after a restart the message is delivered (at least once)', async (t) => {
  const { peer, env } = await world(t, { delayMs: { data: 2000 } });
  const id = await submit(env);
  await waitForQueue(env, (l) => l.length === 1 && l[0]!.status === 'in-flight');
  await env.server.kill();
  await env.start();
  const line = await env.server.waitForDelivery(id, REMOTE, 10_000);
  assert.equal(line.status, 'delivered');
  const received = await peer.waitForMessages(1);
  assert.ok(received.length >= 1 && received.length <= 2, `the remote got it ${received.length} time(s)`);
  assert.deepEqual(await queueList(env), []);
});

test('SIGKILL right after a remote 250: the restarted server does not send the message again', async (t) => {
  const { peer, env } = await world(t, {});
  const id = await submit(env);
  assert.equal((await env.server.waitForDelivery(id, REMOTE)).status, 'delivered');
  await env.server.kill();
  await env.start();
  // Whether the journal still held it (then the store says "done") or not, nothing is resent.
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(env.server.find((l) => l.msg === 'delivery').length, 0, 'no delivery attempt after the restart');
  assert.equal(peer.received.length, 1);
  const recovered = env.server.find((l) => l.msg === 'recovering spooled messages');
  if (recovered.length > 0) assert.equal(env.server.find((l) => /already delivered before the restart/.test(String(l.msg))).length, 1);
});
