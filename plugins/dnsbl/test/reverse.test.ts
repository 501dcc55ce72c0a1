import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clientIp } from '@postern/sdk/net';
import { reverseIp } from '../src/index.js';
import { compileReturnCodes, parseReturnCode } from '../src/return-codes.js';

test('IPv4 octets are reversed', () => {
  assert.equal(reverseIp('1.2.3.4'), '4.3.2.1');
  assert.equal(reverseIp('127.0.0.1'), '1.0.0.127');
});

test('IPv4-mapped IPv6 is treated as IPv4', () => {
  assert.equal(clientIp('::ffff:192.0.2.1'), '192.0.2.1');
  assert.equal(reverseIp('::FFFF:192.0.2.1'), '1.2.0.192');
});

test('IPv6 is 32 reversed nibbles (RFC 5782 2.4)', () => {
  assert.equal(reverseIp('2001:db8:1:2:3:4:567:89ab'), 'b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2');
  assert.equal(reverseIp('2001:DB8::1'), '1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2');
  assert.equal(reverseIp('::1'), ['1', ...new Array<string>(31).fill('0')].join('.'));
  assert.equal(reverseIp('fe80::'), [...new Array<string>(28).fill('0'), '0', '8', 'e', 'f'].join('.'));
});

test('not an IP: undefined', () => {
  assert.equal(reverseIp('unknown'), undefined);
  assert.equal(reverseIp(''), undefined);
});

test('return codes: addresses and ranges; default 127.0.0.0/8', () => {
  assert.deepEqual(parseReturnCode('127.0.0.4-127.0.0.11'), [0x7f000004, 0x7f00000b]);
  assert.equal(parseReturnCode('127.0.0.11-127.0.0.4'), undefined);
  assert.equal(parseReturnCode('bogus'), undefined);
  const some = compileReturnCodes(['127.0.0.2', '127.0.0.4-127.0.0.11']);
  assert.deepEqual(['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.11', '127.0.0.12'].map((a) => some.matches(a)), [true, false, true, true, false]);
  const any = compileReturnCodes(undefined);
  assert.equal(any.matches('127.255.0.1'), true);
  assert.equal(any.matches('10.0.0.2'), false);
});
