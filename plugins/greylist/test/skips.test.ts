import { test } from 'node:test';
import assert from 'node:assert/strict';
import { greylistHarness } from './helpers.js';

test('authenticated sessions are skipped', async () => {
  const g = await greylistHarness();
  const session = g.h.session();
  session.user = 'alice@example.test';
  const { verdict, result } = await g.rcpt({ session });
  assert.equal(verdict, undefined);
  assert.deepEqual(result, { action: 'skipped', reason: 'authenticated' });
});

test('trusted-network sessions are skipped', async () => {
  const g = await greylistHarness();
  const { verdict, result } = await g.rcpt({ session: g.h.session({ trusted: true }) });
  assert.equal(verdict, undefined);
  assert.deepEqual(result, { action: 'skipped', reason: 'trusted' });
});

test('clients or senders allowlisted by the access plugin are skipped', async () => {
  const g = await greylistHarness();
  const session = g.h.session();
  session.results.set('access', { allow: true, match: 'network:10.0.0.0/8' });
  assert.deepEqual((await g.rcpt({ session })).result, { action: 'skipped', reason: 'allowlisted' });

  const tx = g.h.transaction({ mailFrom: 'boss@partner.test' });
  tx.results.set('access', { allow: true, match: 'sender:@partner.test' });
  const viaTx = await g.rcpt({ tx });
  assert.equal(viaTx.verdict, undefined);
  assert.deepEqual(viaTx.result, { action: 'skipped', reason: 'allowlisted' });
});

test('an SPF pass is skipped by default, and greylisted with skipSpfPass: false', async () => {
  const g = await greylistHarness();
  const tx = g.h.transaction({ mailFrom: 'a@spf.test' });
  tx.results.set('spf', { result: 'pass' });
  assert.deepEqual((await g.rcpt({ tx })).result, { action: 'skipped', reason: 'spf-pass' });

  const softfail = g.h.transaction({ mailFrom: 'a@spf.test' });
  softfail.results.set('spf', { result: 'softfail' });
  assert.equal((await g.rcpt({ tx: softfail })).verdict?.code, 451);

  const strict = await greylistHarness({ skipSpfPass: false });
  const passTx = strict.h.transaction({ mailFrom: 'a@spf.test' });
  passTx.results.set('spf', { result: 'pass' });
  assert.equal((await strict.rcpt({ tx: passTx })).verdict?.code, 451);
});

test('invalid options are refused at load', async () => {
  await assert.rejects(greylistHarness({ ignoreResendSec: -1 }), (err: { errors?: string[] }) => {
    assert.ok(err.errors?.includes('ignoreResendSec: must be a number >= 0'));
    return true;
  });
  await assert.rejects(greylistHarness({ ignoreResendSec: 7200, waitForResendHours: 1 }), /ignoreResendSec/);
  await assert.rejects(greylistHarness({ passedDays: 0, skipSpfPass: 'yes' as unknown as boolean }), (err: { errors?: string[] }) => {
    assert.deepEqual(err.errors, ['passedDays: must be a number > 0', 'skipSpfPass: must be true or false']);
    return true;
  });
});
