import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLimiter } from '../src/index.js';

function clock(start = 1_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => void (t += ms) };
}

test('the (limit+1)-th event inside the window is refused', () => {
  const c = clock();
  const limiter = createLimiter(3, 60_000, c.now);
  assert.deepEqual([1, 2, 3].map(() => limiter.hit('k')), [
    { allowed: true, count: 1 },
    { allowed: true, count: 2 },
    { allowed: true, count: 3 },
  ]);
  assert.deepEqual(limiter.hit('k'), { allowed: false, count: 4 });
  // Keys are independent.
  assert.deepEqual(limiter.hit('other'), { allowed: true, count: 1 });
});

test('the window slides: each event frees its slot windowMs after it was counted', () => {
  const c = clock();
  const limiter = createLimiter(3, 60_000, c.now);
  limiter.hit('k'); // t=0
  c.advance(20_000);
  limiter.hit('k'); // t=20s
  c.advance(20_000);
  limiter.hit('k'); // t=40s
  assert.equal(limiter.hit('k').allowed, false);
  c.advance(19_999); // t=59.999s: the first is still inside
  assert.equal(limiter.hit('k').allowed, false);
  c.advance(1); // t=60s: the first has left the window, one slot is free
  assert.deepEqual(limiter.hit('k'), { allowed: true, count: 3 });
  assert.equal(limiter.hit('k').allowed, false);
  c.advance(20_000); // t=80s: the one from t=20s has left
  assert.equal(limiter.hit('k').allowed, true);
});

test('refused events are not counted: a retrying client gets in once the window slides', () => {
  const c = clock();
  const limiter = createLimiter(2, 10_000, c.now);
  limiter.hit('k');
  limiter.hit('k');
  for (let i = 0; i < 50; i++) {
    c.advance(100);
    assert.equal(limiter.hit('k').allowed, false);
  }
  c.advance(5_000); // 10.0s after the first two
  assert.deepEqual(limiter.hit('k'), { allowed: true, count: 1 });
});

test('a fixed-window edge burst is refused (not 2×limit across a boundary)', () => {
  const c = clock();
  const limiter = createLimiter(5, 60_000, c.now);
  c.advance(59_000);
  for (let i = 0; i < 5; i++) assert.equal(limiter.hit('k').allowed, true);
  c.advance(2_000); // a fixed window would have reset here
  assert.equal(limiter.hit('k').allowed, false);
});

test('prune drops keys idle for a whole window and keeps active ones', () => {
  const c = clock();
  const limiter = createLimiter(10, 60_000, c.now);
  for (let i = 0; i < 1000; i++) limiter.hit(`ip:${i}`);
  c.advance(30_000);
  limiter.hit('ip:active');
  assert.equal(limiter.size, 1001);
  assert.equal(limiter.prune(), 0);
  c.advance(30_000);
  assert.equal(limiter.prune(), 1000);
  assert.equal(limiter.size, 1);
  c.advance(30_000);
  assert.equal(limiter.prune(), 1);
  assert.equal(limiter.size, 0);
});

test('maxKeys bounds memory, dropping the least recently seen key', () => {
  const c = clock();
  const limiter = createLimiter(1, 60_000, c.now, 3);
  limiter.hit('a');
  limiter.hit('b');
  limiter.hit('c');
  assert.equal(limiter.hit('a').allowed, false); // refreshes a
  limiter.hit('d'); // evicts b, the least recently seen
  assert.equal(limiter.size, 3);
  assert.equal(limiter.hit('b').allowed, true); // forgotten: counted afresh (evicts c)
  assert.equal(limiter.hit('a').allowed, false);
  assert.equal(limiter.hit('d').allowed, false);
});
