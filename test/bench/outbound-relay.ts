/**
 * Outbound relay benchmark: messages per second relayed from a submission listener to Postfix's
 * smtp-sink, compared in the same run with a private Postfix relaying the same messages to the
 * same kind of sink. Both are fed by Postfix's smtp-source (10 KB, 20 parallel sessions, one
 * connection per message), both relay to 127.0.0.1 through a configured relay host (Postern:
 * `outbound.smarthost`; Postfix: `relayhost`), both may relay because the client is in their
 * trusted networks (Postern: `relay.trustedNetworks`; Postfix: `mynetworks`).
 *
 *   npm run bench:outbound
 *   BENCH_MESSAGES=500 npm run bench:outbound
 *
 * Figures: "accepted/s" is how fast the server took the messages (smtp-source's run time);
 * "relayed/s" is end to end, first message sent to the last one in the sink. Needs root (the
 * private Postfix) and the postfix package. The machine is noisy: compare the ratio.
 */
import { spawn } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { createEnv, freePort, startPrivatePostfix, startSmtpSink, tempDir, cleanupList, type SmtpSink } from '../support/index.js';

const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 2000);
const SESSIONS = Number(process.env.BENCH_SESSIONS ?? 20);
const SIZE = Number(process.env.BENCH_SIZE_KB ?? 10) * 1024;
const SMTP_SOURCE = process.env.SMTP_SOURCE ?? '/usr/sbin/smtp-source';

const t = cleanupList();

/** smtp-source's run: resolves with its wall time in ms. */
function smtpSource(port: number): Promise<number> {
  const started = performance.now();
  const args = ['-s', String(SESSIONS), '-m', String(MESSAGES), '-l', String(SIZE), '-f', 'sender@example.test', '-t', 'someone@remote.test', `127.0.0.1:${port}`];
  return new Promise((resolve, reject) => {
    const child = spawn(SMTP_SOURCE, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve(performance.now() - started) : reject(new Error(`smtp-source exited ${code}: ${stderr}`))));
  });
}

/** Wait until the sink has `n` finished dumps; resolves with the time it happened. */
async function sinkHolds(sink: SmtpSink, n: number, timeoutMs = 600_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const count = (await readdir(sink.dumpDir)).length;
    if (count >= n) return performance.now();
    if (Date.now() > deadline) throw new Error(`the sink got ${count} of ${n} messages`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function run(name: string, port: number, sink: SmtpSink): Promise<{ name: string; acceptedPerSec: number; relayedPerSec: number }> {
  const started = performance.now();
  const sourceMs = await smtpSource(port);
  const done = await sinkHolds(sink, MESSAGES);
  const result = { name, acceptedPerSec: MESSAGES / (sourceMs / 1000), relayedPerSec: MESSAGES / ((done - started) / 1000) };
  console.log(`${name.padEnd(8)} accepted ${result.acceptedPerSec.toFixed(0).padStart(5)}/s   relayed ${result.relayedPerSec.toFixed(0).padStart(5)}/s`);
  return result;
}

async function main(): Promise<void> {
  console.log(`outbound relay: ${MESSAGES} messages of ${SIZE / 1024} KB, ${SESSIONS} parallel sessions, smtp-source → server → smtp-sink`);

  const postfixSink = await startSmtpSink(t);
  const postfix = await startPrivatePostfix({
    port: await freePort(),
    relayTo: postfixSink.address,
    dir: join(await tempDir(t, 'postern-bench-postfix-'), 'pf'),
    t,
    // As many parallel deliveries as Postern's per-destination limit below.
    main: { default_destination_concurrency_limit: SESSIONS, smtpd_client_connection_count_limit: 0, smtpd_client_message_rate_limit: 0 },
  });
  const postfixResult = await run('postfix', postfix.port, postfixSink);

  const posternSink = await startSmtpSink(t);
  const env = await createEnv(t, {
    domains: ['example.test'],
    listeners: [{ name: 'submission', tls: 'none', auth: 'none' }],
    trustedNetworks: ['127.0.0.0/8'],
    smtp: { maxRecipients: 100, limits: { connectionsPerIp: 0 } },
    extra: {
      outbound: { smarthost: { host: '127.0.0.1', port: posternSink.port, tls: 'none' }, maxConnectionsPerDestination: SESSIONS },
    },
  });
  const posternResult = await run('postern', env.ports.submission!, posternSink);

  console.log(`postern/postfix: accepted ${(posternResult.acceptedPerSec / postfixResult.acceptedPerSec).toFixed(2)}, relayed ${(posternResult.relayedPerSec / postfixResult.relayedPerSec).toFixed(2)}`);
}

try {
  await main();
} finally {
  await t.run();
}
