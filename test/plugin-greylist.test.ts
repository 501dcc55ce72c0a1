/**
 * The first-party greylist plugin on a real server: the 451 4.7.1 on the wire, a retry that is
 * delivered, and the triplet still known after a restart (its state is in the server's database).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ANN, createEnv, makeMessage, WORLD } from './support/index.js';

const SENDER = 'someone@remote.test';

test('greylist: first RCPT gets 451 4.7.1, the retry is delivered, and the triplet survives a restart', async (t) => {
  const env = await createEnv(t, { ...WORLD, plugins: { greylist: { enabled: true, ignoreResendSec: 1 } } });

  const first = await env.connect('mx');
  await first.ehlo();
  assert.equal((await first.cmd(`MAIL FROM:<${SENDER}>`)).code, 250);
  const refused = await first.cmd(`RCPT TO:<${ANN}>`);
  assert.equal(refused.code, 451, refused.raw);
  assert.match(refused.raw, /4\.7\.1 Greylisted: please try again in 1 seconds/);
  await first.quit();

  await new Promise((resolve) => setTimeout(resolve, 1200));
  const retry = await env.connect('mx');
  await retry.ehlo();
  const sent = await retry.send(SENDER, [ANN], makeMessage().text);
  assert.equal(sent.final.code, 250, sent.final.raw);
  await retry.quit();
  await env.server.waitForDelivery(sent.queueId!, ANN);

  await env.restartCountRecovered();
  const after = await env.connect('mx');
  await after.ehlo();
  const again = await after.send(SENDER, [ANN], makeMessage().text);
  assert.equal(again.final.code, 250, again.final.raw);
  await after.quit();
  await env.server.waitForDelivery(again.queueId!, ANN);
});
