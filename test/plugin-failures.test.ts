/**
 * A broken plugin never takes the server down: a tap that throws, rejects or never settles becomes
 * 451 4.3.0 (logged with the plugin's name and a PosternError code), or is ignored when the plugin
 * is configured fail-open. The test plugins are folders under `plugins.paths`.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createEnv, WORLD, makeMessage, type Env } from './support/index.js';

const ANN = 'ann@example.test';

/** Taps rcptTo and misbehaves only for mail from `trigger@...`, so ordinary mail shows the server still works. */
function plugin(name: string, misbehave: string, hook = 'rcptTo'): string {
  return `export default {
  name: '${name}',
  setup(api) {
    api.tap('${hook}', (session, tx) => {
      if (!tx.mailFrom.address.startsWith('trigger@')) return undefined;
      ${misbehave}
    });
  },
};
`;
}

const THROWS = plugin('thrower', "throw new Error('boom');");
const REJECTS = plugin('rejecter', "return Promise.reject(new Error('async boom'));");
const HANGS = plugin('hanger', 'return new Promise(() => {});');
const THROWS_AT_DATA = plugin('data-thrower', "throw new Error('boom at data');", 'data');

/** Mail from trigger@ gets a refusal at RCPT (or DATA); returns that reply. */
async function triggerReply(env: Env, atData = false): Promise<{ code: number; enhanced: string | undefined; raw: string; ms: number }> {
  const client = await env.connect('mx');
  await client.ehlo();
  assert.equal((await client.cmd('MAIL FROM:<trigger@client.example.test>')).code, 250);
  const started = Date.now();
  let reply = await client.cmd(`RCPT TO:<${ANN}>`);
  if (atData) {
    assert.equal(reply.code, 250, reply.raw);
    assert.equal((await client.cmd('DATA')).code, 354);
    client.write(`${makeMessage().text}.\r\n`);
    reply = await client.read();
  }
  const ms = Date.now() - started;
  await client.quit();
  return { ...reply, ms };
}

/** A normal message on a new connection is accepted and delivered. */
async function assertStillServing(env: Env): Promise<void> {
  assert.ok(env.server.alive, 'the server process is still running');
  const client = await env.connect('mx');
  await client.ehlo();
  const message = makeMessage();
  const sent = await client.send('sender@client.example.test', [ANN], message.text);
  assert.equal(sent.final.code, 250, JSON.stringify(sent.replies.map((r) => r.raw)));
  await client.quit();
  assert.equal((await env.server.waitForDelivery(sent.queueId!, ANN)).status, 'delivered');
  assert.ok((await env.mailbox(ANN)).some((f) => f.data.includes(`Message-ID: <${message.id}>`)));
}

async function assertLoggedFailure(env: Env, plugin: string, code: string): Promise<void> {
  // The log line may reach us a moment after the client's reply: wait for it first.
  const matches = (l: { plugin?: unknown; code?: unknown }) => l.plugin === plugin && l.code === code;
  await env.server.waitForLog(matches, 5000, 0, `a log line naming plugin ${plugin} with code ${code}`);
  const lines = env.server.find(matches);
  assert.ok(lines.length >= 1, `a log line names plugin ${plugin} with code ${code}\n${env.server.tail()}`);
  assert.ok(lines.every((l) => typeof l.level === 'number' && l.level >= 50), 'logged as an error');
}

test('a plugin whose tap throws gives 451 4.3.0, is logged with its name, and the server keeps serving', async (t) => {
  const env = await createEnv(t, { ...WORLD, testPlugins: { thrower: THROWS }, plugins: { thrower: { enabled: true } } });
  assert.ok(env.server.find((l) => l.msg === 'plugin loaded' && l.plugin === 'thrower').length === 1, 'the test plugin was loaded');
  const reply = await triggerReply(env);
  assert.equal(reply.code, 451, reply.raw);
  assert.equal(reply.enhanced, '4.3.0');
  await assertLoggedFailure(env, 'thrower', 'POSTERN_PLUGIN_TAP_FAILED');
  await assertStillServing(env);
});

test('a plugin whose tap returns a rejected promise gives 451 4.3.0 and the server keeps serving', async (t) => {
  const env = await createEnv(t, { ...WORLD, testPlugins: { rejecter: REJECTS }, plugins: { rejecter: { enabled: true } } });
  const reply = await triggerReply(env);
  assert.equal(reply.code, 451, reply.raw);
  assert.equal(reply.enhanced, '4.3.0');
  await assertLoggedFailure(env, 'rejecter', 'POSTERN_PLUGIN_TAP_FAILED');
  await assertStillServing(env);
});

test('a plugin whose tap never resolves times out (timeoutMs 500) with 451 4.3.0 and the server keeps serving', async (t) => {
  const env = await createEnv(t, { ...WORLD, testPlugins: { hanger: HANGS }, plugins: { hanger: { enabled: true, timeoutMs: 500 } } });
  const reply = await triggerReply(env);
  assert.equal(reply.code, 451, reply.raw);
  assert.equal(reply.enhanced, '4.3.0');
  assert.ok(reply.ms >= 450 && reply.ms < 3000, `the reply came after the 500 ms timeout, not before or much later (${reply.ms} ms)`);
  await assertLoggedFailure(env, 'hanger', 'POSTERN_PLUGIN_TAP_TIMEOUT');
  await assertStillServing(env);
  // A second hanging transaction, while another connection is served: the hang blocks nobody else.
  const [hung] = await Promise.all([triggerReply(env), assertStillServing(env)]);
  assert.equal(hung.code, 451);
});

test('a plugin that throws at DATA gives 451 4.3.0 for the message, nothing is delivered, and the server keeps serving', async (t) => {
  const env = await createEnv(t, {
    ...WORLD,
    testPlugins: { 'data-thrower': THROWS_AT_DATA },
    plugins: { 'data-thrower': { enabled: true } },
  });
  const reply = await triggerReply(env, true);
  assert.equal(reply.code, 451, reply.raw);
  assert.equal(reply.enhanced, '4.3.0');
  assert.deepEqual(await env.mailbox(ANN), []);
  assert.equal(env.server.find((l) => l.msg === 'smtp transaction' && l.status === 'queued').length, 0, 'nothing was queued');
  await assertLoggedFailure(env, 'data-thrower', 'POSTERN_PLUGIN_TAP_FAILED');
  await assertStillServing(env);
});

test('a fail-open plugin that throws is ignored: the mail is accepted and delivered, the failure still logged', async (t) => {
  const env = await createEnv(t, { ...WORLD, testPlugins: { thrower: THROWS }, plugins: { thrower: { enabled: true, failOpen: true } } });
  const client = await env.connect('mx');
  await client.ehlo();
  const message = makeMessage();
  const sent = await client.send('trigger@client.example.test', [ANN], message.text);
  assert.equal(sent.final.code, 250, JSON.stringify(sent.replies.map((r) => r.raw)));
  await client.quit();
  assert.equal((await env.server.waitForDelivery(sent.queueId!, ANN)).status, 'delivered');
  await assertLoggedFailure(env, 'thrower', 'POSTERN_PLUGIN_TAP_FAILED');
  assert.equal((await env.mailbox(ANN)).length, 1);
});

test("what a plugin (or a library) prints with console.* becomes a structured log line, so stdout stays JSON", async (t) => {
  const chatty = `export default {
  name: 'chatty',
  setup(api) {
    api.tap('mailFrom', () => {
      console.log('TOTAL %d EXPECTING %d', 12, 10);
      console.warn('careful');
      return undefined;
    });
  },
};`;
  const env = await createEnv(t, { ...WORLD, testPlugins: { chatty }, plugins: { chatty: { enabled: true } } });
  const client = await env.connect('mx');
  await client.ehlo();
  assert.equal((await client.cmd('MAIL FROM:<a@client.example.test>')).code, 250);
  await client.quit();
  const printed = await env.server.waitForLog((l) => l.msg === 'TOTAL 12 EXPECTING 10');
  assert.equal(printed.source, 'console');
  assert.equal(printed.level, 30);
  assert.equal((await env.server.waitForLog((l) => l.msg === 'careful')).level, 40);
  assert.deepEqual(env.server.find((l) => l.unparsed === true), [], 'every stdout line is JSON');
});
