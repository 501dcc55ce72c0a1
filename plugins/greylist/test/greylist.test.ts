import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DAY, HOUR, SEC, greylistHarness } from './helpers.js';

test('first sight: 451 4.7.1 with a wait in the text, recorded as greylisted/new', async () => {
  const g = await greylistHarness();
  const { verdict, result } = await g.rcpt();
  assert.equal(verdict?.action, 'tempfail');
  assert.equal(verdict?.code, 451);
  assert.equal(verdict?.enhanced, '4.7.1');
  assert.equal(verdict?.message, 'Greylisted: please try again in 300 seconds');
  assert.equal(verdict?.by, 'greylist');
  assert.deepEqual(result, { action: 'greylisted', reason: 'new', waitSec: 300 });
});

test('an early retry is still refused, with the time left', async () => {
  const g = await greylistHarness();
  await g.rcpt();
  g.advance(100 * SEC);
  const { verdict, result } = await g.rcpt();
  assert.equal(verdict?.code, 451);
  assert.equal(verdict?.message, 'Greylisted: please try again in 200 seconds');
  assert.deepEqual(result, { action: 'greylisted', reason: 'too-early', waitSec: 200 });
  // The early retry does not restart the clock.
  g.advance(200 * SEC);
  assert.equal((await g.rcpt()).verdict, undefined);
});

test('a retry after ignoreResendSec passes, and the triplet then passes without delay', async () => {
  const g = await greylistHarness();
  await g.rcpt();
  g.advance(300 * SEC);
  const retry = await g.rcpt();
  assert.equal(retry.verdict, undefined);
  assert.deepEqual(retry.result, { action: 'passed', reason: 'retry' });
  g.advance(10 * DAY);
  const later = await g.rcpt();
  assert.equal(later.verdict, undefined);
  assert.deepEqual(later.result, { action: 'passed', reason: 'known' });
});

test('only the same triplet passes: another sender or recipient is greylisted on its own', async () => {
  const g = await greylistHarness();
  await g.rcpt();
  g.advance(301 * SEC);
  assert.equal((await g.rcpt()).verdict, undefined);
  assert.equal((await g.rcpt({ from: 'other@sender.test' })).result?.reason, 'new');
  assert.equal((await g.rcpt({ to: 'carol@example.test' })).result?.reason, 'new');
  assert.equal((await g.rcpt({ ip: '192.0.3.10' })).result?.reason, 'new');
});

test('sender and recipient are compared lower-cased', async () => {
  const g = await greylistHarness();
  await g.rcpt({ from: 'Alice@Sender.TEST', to: 'Bob@Example.test' });
  g.advance(301 * SEC);
  assert.deepEqual((await g.rcpt({ from: 'alice@sender.test', to: 'BOB@example.test' })).result, { action: 'passed', reason: 'retry' });
});

test('a triplet not retried within waitForResendHours is forgotten', async () => {
  const g = await greylistHarness({ waitForResendHours: 4 });
  await g.rcpt();
  g.advance(4 * HOUR + SEC);
  const { verdict, result } = await g.rcpt();
  assert.equal(verdict?.code, 451);
  assert.deepEqual(result, { action: 'greylisted', reason: 'new', waitSec: 300 });
});

test('a passed triplet expires passedDays after its last use, and each use refreshes it', async () => {
  const g = await greylistHarness({ passedDays: 2 });
  await g.rcpt();
  g.advance(301 * SEC);
  await g.rcpt();
  g.advance(2 * DAY - HOUR); // used again just before expiry: refreshed
  assert.equal((await g.rcpt()).result?.reason, 'known');
  g.advance(2 * DAY - HOUR);
  assert.equal((await g.rcpt()).result?.reason, 'known');
  g.advance(2 * DAY + SEC);
  const { verdict, result } = await g.rcpt();
  assert.equal(verdict?.code, 451);
  assert.equal(result?.reason, 'new');
});

test('IPv4 clients are grouped by /24 (an IPv4-mapped address included)', async () => {
  const g = await greylistHarness();
  await g.rcpt({ ip: '198.51.100.7' });
  g.advance(301 * SEC);
  assert.equal((await g.rcpt({ ip: '198.51.100.200' })).result?.action, 'passed');
  assert.equal((await g.rcpt({ ip: '::ffff:198.51.100.9' })).result?.action, 'passed');
  assert.equal((await g.rcpt({ ip: '198.51.101.7' })).result?.action, 'greylisted');
});

test('IPv6 clients are grouped by /64', async () => {
  const g = await greylistHarness();
  await g.rcpt({ ip: '2001:db8:1:2::1' });
  g.advance(301 * SEC);
  assert.equal((await g.rcpt({ ip: '2001:0db8:0001:0002:ffff:1:2:3' })).result?.action, 'passed');
  assert.equal((await g.rcpt({ ip: '2001:db8:1:3::1' })).result?.action, 'greylisted');
});

test('the null sender is a triplet of its own', async () => {
  const g = await greylistHarness();
  const first = await g.rcpt({ from: '<>' });
  assert.equal(first.verdict?.code, 451);
  g.advance(301 * SEC);
  assert.equal((await g.rcpt({ from: '' })).result?.action, 'passed');
  assert.equal((await g.rcpt({ from: 'alice@sender.test' })).result?.reason, 'new');
});

test('ignoreResendSec from the options sets the wait', async () => {
  const g = await greylistHarness({ ignoreResendSec: 60 });
  assert.equal((await g.rcpt()).verdict?.message, 'Greylisted: please try again in 60 seconds');
  g.advance(60 * SEC);
  assert.equal((await g.rcpt()).verdict, undefined);
});
