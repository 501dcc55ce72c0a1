/**
 * swaks, the admin's SMTP swiss-army knife, against a running Postern: the README's own examples
 * (MX delivery, authenticated submission over STARTTLS) and the per-IP connection limit.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { createEnv, PASSWORD, RawSmtp, WORLD } from './support/index.js';

const run = promisify(execFile);
const ANN = 'ann@example.test';

async function swaks(args: string[]): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await run('swaks', ['--hide-informational', '--timeout', '10', ...args]);
    return { code: 0, output: stdout + stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, output: (e.stdout ?? '') + (e.stderr ?? '') };
  }
}

test('swaks: a message to a local user over the MX listener lands in the Maildir', async (t) => {
  const env = await createEnv(t, { ...WORLD });
  const result = await swaks(['--server', `127.0.0.1:${env.ports.mx}`, '--from', 'bob@elsewhere.test', '--to', ANN, '--header', 'Subject: swaks to mx']);
  assert.equal(result.code, 0, result.output);
  const queueId = /250 2\.0\.0 Ok: queued as ([0-9A-Z]{20})/.exec(result.output)?.[1];
  assert.ok(queueId, `queue id in swaks output:\n${result.output}`);
  const line = await env.server.waitForDelivery(queueId, ANN);
  assert.equal(line.status, 'delivered');
  const copies = (await env.mailbox(ANN)).filter((f) => f.data.includes('Subject: swaks to mx'));
  assert.equal(copies.length, 1);
});

test('swaks: AUTH PLAIN over STARTTLS on submission is accepted; a wrong password is 535 5.7.8', async (t) => {
  const env = await createEnv(t, { ...WORLD });
  const ok = await swaks(['--server', `127.0.0.1:${env.ports.submission}`, '--tls', '--auth', 'PLAIN', '--auth-user', ANN, '--auth-password', PASSWORD, '--from', ANN, '--to', 'friend@remote.test']);
  assert.equal(ok.code, 0, ok.output);
  assert.match(ok.output, /235 /);
  assert.match(ok.output, /250 2\.0\.0 Ok: queued as /);

  const bad = await swaks(['--server', `127.0.0.1:${env.ports.submission}`, '--tls', '--auth', 'PLAIN', '--auth-user', ANN, '--auth-password', 'wrong password', '--from', ANN, '--to', 'friend@remote.test']);
  assert.notEqual(bad.code, 0);
  assert.match(bad.output, /535 5\.7\.8 /);
});

test('connectionsPerIp: the connection over the limit gets 421 4.7.0, and a slot frees when one closes', async (t) => {
  const env = await createEnv(t, { ...WORLD, smtp: { limits: { connectionsPerIp: 2, maxConnections: 0 } } });
  const first = await env.connect('mx');
  const second = await env.connect('mx');
  const { client: third, greeting } = await RawSmtp.connect(env.ports.mx!);
  t.after(() => third.socket.destroy());
  assert.equal(greeting.code, 421);
  assert.equal(greeting.enhanced, '4.7.0');
  await first.quit();
  // onClose runs after the socket closes; give it a moment, then a new connection fits again.
  let again: Awaited<ReturnType<typeof RawSmtp.connect>> | undefined;
  for (let i = 0; i < 40; i++) {
    again = await RawSmtp.connect(env.ports.mx!);
    if (again.greeting.code === 220) break;
    again.client.socket.destroy();
    await new Promise((r) => setTimeout(r, 25));
  }
  assert.equal(again?.greeting.code, 220);
  again!.client.socket.destroy();
  await second.quit();
});
