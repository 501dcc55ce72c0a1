/**
 * The spamassassin plugin end to end: real Postern processes scanning each message with one real
 * spamd (test/support/spamd.ts, Debian's rules, local tests only), shared by the whole file.
 *
 * - `strict`: rejectThreshold 20, maxSizeBytes 20000, onError tempfail (the default);
 * - `lenient`: only markThreshold 5 (spam goes to Junk), onError accept.
 * The last test stops spamd, so it must stay last.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { readManifest, validatePluginOptions } from '../core/src/plugin-host/manifest.js';
import spamassassinPlugin from '../plugins/spamassassin/src/index.js';
import { ANN, BOB, PASSWORD, cleanupList, createEnv, gtube, makeMessage, sleep, startSpamd, WORLD } from './support/index.js';
import type { Env, SpamdServer } from './support/index.js';
import type { MailFile } from './support/index.js';

const cleanup = cleanupList();
let spamd: SpamdServer;
let strict: Env;
let lenient: Env;

before(async () => {
  spamd = await startSpamd(cleanup);
  const section = { enabled: true, port: spamd.port };
  [strict, lenient] = await Promise.all([
    createEnv(cleanup, { ...WORLD, plugins: { spamassassin: { ...section, rejectThreshold: 20, maxSizeBytes: 20_000 } } }),
    createEnv(cleanup, { ...WORLD, plugins: { spamassassin: { ...section, markThreshold: 5, onError: 'accept' } } }),
  ]);
});
after(() => cleanup.run());

test('the manifest validates in the core; its schema defaults are the plugin\'s defaults; bad keys are named', async () => {
  const manifest = await readManifest(join(new URL('..', import.meta.url).pathname, 'plugins', 'spamassassin'));
  assert.equal(manifest.name, 'spamassassin');
  const { options, errors } = validatePluginOptions(manifest, { enabled: true });
  assert.deepEqual(errors, []);
  assert.deepEqual(options, spamassassinPlugin.defaults);
  assert.deepEqual(spamassassinPlugin.validate?.(options as never), []);
  const bad = validatePluginOptions(manifest, { enabled: true, port: 0, onError: 'ignore', markThreshold: 'high', rejectThreshold: 15, colour: 1 });
  assert.equal(bad.errors.length, 4, bad.errors.join('; '));
  for (const key of ['port', 'onError', 'markThreshold', 'colour']) assert.ok(bad.errors.some((e) => e.startsWith(`plugins.spamassassin.${key}:`)), bad.errors.join('; '));
});

const GTUBE_BODY = () => `Hello Ann,\r\n\r\n${gtube()}\r\n`;
const HAM_BODY = 'Hello Ann,\r\n\r\nare we still on for lunch tomorrow at noon?\r\n\r\nBob';

async function send(env: Env, subject: string, body: string, padTo?: number) {
  const client = await env.connect('mx');
  await client.ehlo();
  const message = makeMessage({ subject, body, ...(padTo === undefined ? {} : { padTo }) });
  const sent = await client.send('someone@sender.test', [ANN], message.text);
  // The session goes on after a refusal: the server did not crash or drop the connection.
  assert.equal((await client.cmd('NOOP')).code, 250);
  await client.quit();
  return sent.final;
}

/** The one message with `subject` in ANN's `folder`, waiting for the delivery (or undefined). */
async function delivered(env: Env, subject: string, folder?: string, waitMs = 5000): Promise<MailFile | undefined> {
  const find = async () => (await env.mailbox(ANN, folder)).filter((f) => f.data.includes(`Subject: ${subject}\r\n`));
  let found = await find();
  for (let waited = 0; found.length === 0 && waited < waitMs; waited += 100) {
    await sleep(100);
    found = await find();
  }
  assert.ok(found.length <= 1, `${found.length} copies of ${subject}`);
  return found[0];
}

const header = (file: MailFile, name: string) => new RegExp(`^${name}: (.*)\\r$`, 'm').exec(file.data.toString('latin1'))?.[1];

test('rejectThreshold: GTUBE is refused at DATA with 550 5.7.1 and its score, nothing delivered', async () => {
  const reply = await send(strict, 'gtube reject', GTUBE_BODY());
  assert.equal(reply.code, 550, reply.raw);
  assert.equal(reply.enhanced, '5.7.1');
  assert.match(reply.raw, /Message refused as spam \(score (?:99\d|10\d\d)\.\d\)/);
  assert.equal(await delivered(strict, 'gtube reject', undefined, 300), undefined);
  assert.equal(await delivered(strict, 'gtube reject', 'Junk', 0), undefined);
});

test('ham lands in INBOX with X-Spam-Flag: NO and the score headers', async () => {
  const reply = await send(strict, 'ham', HAM_BODY);
  assert.equal(reply.code, 250, reply.raw);
  const file = await delivered(strict, 'ham');
  assert.ok(file, 'ham not delivered');
  assert.equal(header(file, 'X-Spam-Flag'), 'NO');
  assert.match(header(file, 'X-Spam-Score') ?? '', /^-?\d\.\d$/);
  assert.match(header(file, 'X-Spam-Status') ?? '', /^No, score=-?\d\.\d required=5\.0 tests=/);
});

test('markThreshold only: GTUBE is accepted into the recipient\'s Junk folder with X-Spam-Flag: YES', async () => {
  const reply = await send(lenient, 'gtube junk', GTUBE_BODY());
  assert.equal(reply.code, 250, reply.raw);
  const file = await delivered(lenient, 'gtube junk', 'Junk');
  assert.ok(file, 'not in .Junk');
  assert.match(file.path, /\/\.Junk\/(new|cur)\//);
  assert.equal(header(file, 'X-Spam-Flag'), 'YES');
  assert.match(header(file, 'X-Spam-Status') ?? '', /^Yes, score=(?:99\d|10\d\d)\.\d required=5\.0 tests=/);
  assert.match(file.data.toString('latin1'), /[=,\s]GTUBE[,\r]/);
  assert.equal(await delivered(lenient, 'gtube junk', undefined, 0), undefined);
});

test('a message above maxSizeBytes is accepted unscanned (even GTUBE), marked X-Spam-Skipped: too-large', async () => {
  const reply = await send(strict, 'gtube large', GTUBE_BODY(), 30_000);
  assert.equal(reply.code, 250, reply.raw);
  const file = await delivered(strict, 'gtube large');
  assert.ok(file, 'large message not delivered');
  assert.ok(file.data.length > 30_000);
  assert.equal(header(file, 'X-Spam-Skipped'), 'too-large');
  assert.equal(header(file, 'X-Spam-Flag'), undefined);
});

test('an authenticated user\'s mail is not scanned (skipAuthenticated, the default): no 550, no X-Spam headers', async () => {
  const client = await strict.connect('submission');
  await client.ehlo();
  assert.equal((await client.starttls()).code, 220);
  await client.ehlo();
  assert.equal((await client.authPlain(BOB, PASSWORD)).code, 235);
  const sent = await client.send(BOB, [ANN], makeMessage({ from: `Bob <${BOB}>`, subject: 'gtube from bob', body: GTUBE_BODY() }).text);
  await client.quit();
  assert.equal(sent.final.code, 250, sent.final.raw);
  const file = await delivered(strict, 'gtube from bob');
  assert.ok(file, 'not delivered to INBOX');
  assert.doesNotMatch(file.data.toString('latin1'), /^X-Spam-/m);
});

// Stops the shared spamd: keep it last.
test('spamd stopped: onError tempfail refuses with 451 4.7.1 (nothing accepted), onError accept delivers unscanned', async () => {
  await spamd.stop();

  const refused = await send(strict, 'spamd down strict', HAM_BODY);
  assert.equal(refused.code, 451, refused.raw);
  assert.equal(refused.enhanced, '4.7.1');
  assert.match(refused.raw, /Spam scan unavailable, try again later/);
  assert.doesNotMatch(refused.raw, /ECONNREFUSED/);
  assert.equal(await delivered(strict, 'spamd down strict', undefined, 300), undefined);

  const accepted = await send(lenient, 'spamd down lenient', GTUBE_BODY());
  assert.equal(accepted.code, 250, accepted.raw);
  const file = await delivered(lenient, 'spamd down lenient');
  assert.ok(file, 'not delivered to INBOX');
  assert.equal(header(file, 'X-Spam-Skipped'), 'error');
  assert.equal(header(file, 'X-Spam-Flag'), undefined);
  // The cause goes to the server's log, with spamc's error code.
  const logged = await strict.server.waitForLog((l) => l.msg === 'spamassassin: scan failed');
  assert.equal(logged.code, 'SPAMC_CONNECT');
  assert.ok(strict.server.alive && lenient.server.alive);
});
