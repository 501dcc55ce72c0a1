/**
 * The admin HTTP API, driven with curl: plugin status and reload, bearer-token auth, JSON errors
 * with stable codes.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { parse, stringify } from 'yaml';
import { ANN, createEnv, freePorts, makeMessage, PASSWORD, sendWithNodemailer, WORLD } from './support/index.js';

const run = promisify(execFile);
const TOKEN = 'test-admin-token-0123456789';

async function curl(url: string, options: { method?: string; token?: string } = {}): Promise<{ status: number; body: Record<string, unknown> }> {
  const args = ['-s', '-o', '-', '-w', '\n%{http_code}', '-X', options.method ?? 'GET'];
  if (options.token) args.push('-H', `Authorization: Bearer ${options.token}`);
  const { stdout } = await run('curl', [...args, url]);
  const cut = stdout.lastIndexOf('\n');
  return { status: Number(stdout.slice(cut + 1)), body: JSON.parse(stdout.slice(0, cut) || '{}') as Record<string, unknown> };
}

const plugin = `export default { name: 'block-domain', defaults: { domain: 'a.test' },
  validate(o) { return typeof o.domain === 'string' ? [] : ['domain: must be a string']; },
  setup(api) { api.tap('mailFrom', (_s, tx) => tx.mailFrom.domain === api.options.domain ? { action: 'reject' } : undefined); } };`;

test('admin API: status, tap timings and reload with the token; 401 without; a failed reload is 409 with its code', async (t) => {
  const [port] = await freePorts(1);
  const env = await createEnv(t, {
    ...WORLD,
    testPlugins: { 'block-domain': plugin },
    plugins: { 'block-domain': { enabled: true, domain: 'a.test' } },
    extra: { admin: { enabled: true, host: '127.0.0.1', port, token: TOKEN } },
  });
  const base = `http://127.0.0.1:${port}`;

  const denied = await curl(`${base}/api/plugins`);
  assert.equal(denied.status, 401);
  assert.equal(denied.body.code, 'POSTERN_ADMIN_UNAUTHORIZED');
  assert.equal((await curl(`${base}/api/plugins`, { token: 'wrong-token-wrong-token' })).status, 401);

  const status = await curl(`${base}/api/plugins`, { token: TOKEN });
  assert.equal(status.status, 200);
  assert.equal(status.body.generation, 1);
  assert.deepEqual((status.body.plugins as Array<{ name: string }>).map((p) => p.name), ['block-domain']);

  const client = await env.connect('mx');
  await client.ehlo();
  assert.equal((await client.cmd('MAIL FROM:<x@a.test>')).code, 550);
  assert.equal((await client.cmd('RSET')).code, 250);
  assert.equal((await client.cmd('MAIL FROM:<x@b.test>')).code, 250);
  await client.quit();
  const timings = await curl(`${base}/api/plugins/timings`, { token: TOKEN });
  assert.equal(timings.status, 200);
  const taps = timings.body.taps as Array<{ hook: string; plugin: string; calls: number; failures: number; avgMs: number }>;
  const mine = taps.find((tap) => tap.plugin === 'block-domain');
  assert.deepEqual({ hook: mine?.hook, calls: mine?.calls, failures: mine?.failures }, { hook: 'mailFrom', calls: 2, failures: 0 });
  assert.ok(typeof mine?.avgMs === 'number' && mine.avgMs >= 0);

  const reloaded = await curl(`${base}/api/plugins/reload`, { method: 'POST', token: TOKEN });
  assert.equal(reloaded.status, 200, JSON.stringify(reloaded.body));
  assert.ok((reloaded.body.generation as number) > 1);

  const config = parse(await readFile(env.configPath, 'utf8')) as { plugins: Record<string, Record<string, unknown>> };
  config.plugins['block-domain']!.domain = 42;
  await writeFile(env.configPath, stringify(config));
  const failed = await curl(`${base}/api/plugins/reload`, { method: 'POST', token: TOKEN });
  assert.equal(failed.status, 409);
  assert.equal(failed.body.code, 'POSTERN_PLUGIN_RELOAD_FAILED');
  assert.equal(failed.body.cause, 'POSTERN_PLUGIN_OPTIONS_INVALID');

  const missing = await curl(`${base}/api/nope`, { token: TOKEN });
  assert.equal(missing.status, 404);
  assert.equal(missing.body.code, 'POSTERN_ADMIN_NOT_FOUND');
});

test('admin API: enabled without a token, the server refuses to start with a clear error', async (t) => {
  const [port] = await freePorts(1);
  const env = await createEnv(t, { ...WORLD, extra: { admin: { enabled: true, host: '127.0.0.1', port } }, start: false });
  const { postern } = await import('./support/index.js');
  const result = await postern(['start'], { config: env.configPath });
  assert.equal(result.code, 1);
  assert.match(result.stderr, /POSTERN_ADMIN_TOKEN_MISSING/);
});

test('admin API: the queue, as `postern queue` does it: list, show, hold, release, retry, delete; 404 for an unknown id', async (t) => {
  const [port] = await freePorts(1);
  // Remote mail goes to the test env's unreachable relay, so it waits in the queue.
  const env = await createEnv(t, { ...WORLD, extra: { admin: { enabled: true, host: '127.0.0.1', port, token: TOKEN } } });
  const base = `http://127.0.0.1:${port}`;
  const sent = await sendWithNodemailer({ port: env.ports.submission!, requireTLS: true, auth: { user: ANN, pass: PASSWORD }, from: ANN, to: ['x@remote.test'], raw: makeMessage({ from: ANN, to: 'x@remote.test' }).bytes });
  const id = sent.queueId!;
  await env.server.waitForDelivery(id, 'x@remote.test');

  let listed: Array<Record<string, unknown>> = [];
  for (let i = 0; i < 50 && listed[0]?.status !== 'deferred'; i++) {
    listed = (await curl(`${base}/api/queue`, { token: TOKEN })).body as unknown as Array<Record<string, unknown>>;
    if (listed[0]?.status !== 'deferred') await new Promise((r) => setTimeout(r, 50));
  }
  assert.equal(listed.length, 1);
  assert.equal(listed[0]!.id, id);
  assert.equal(listed[0]!.lastCode, 451);

  const shown = await curl(`${base}/api/queue/${id}`, { token: TOKEN });
  assert.equal(shown.status, 200);
  assert.deepEqual((shown.body.recipients as Array<{ address: string }>).map((r) => r.address), ['x@remote.test']);

  assert.deepEqual((await curl(`${base}/api/queue/${id}/hold`, { method: 'POST', token: TOKEN })).body, { ids: [id] });
  assert.equal(((await curl(`${base}/api/queue`, { token: TOKEN })).body as unknown as Array<{ status: string }>)[0]!.status, 'held');
  assert.deepEqual((await curl(`${base}/api/queue/all/release`, { method: 'POST', token: TOKEN })).body, { ids: [id] });
  assert.deepEqual((await curl(`${base}/api/queue/all/retry`, { method: 'POST', token: TOKEN })).body, { ids: [id] });

  const unknown = await curl(`${base}/api/queue/NOSUCHMESSAGE`, { token: TOKEN });
  assert.equal(unknown.status, 404);
  assert.equal(unknown.body.code, 'POSTERN_QUEUE_NOT_FOUND');

  // The retry above may be running: wait until it is back to waiting, then clear the queue.
  await env.server.waitForLog((l) => l.msg === 'delivery' && l.queueId === id && l.attempt === 2);
  let deleted: unknown;
  for (let i = 0; i < 50; i++) {
    deleted = (await curl(`${base}/api/queue/all`, { method: 'DELETE', token: TOKEN })).body;
    if ((deleted as { ids: string[] }).ids.length > 0) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.deepEqual(deleted, { ids: [id] });
  assert.deepEqual((await curl(`${base}/api/queue`, { token: TOKEN })).body, []);
});
