/**
 * What the core does for the data hook's newer calls, through a running server, for a trusted and
 * a sandboxed plugin alike: one Authentication-Results header from `tx.addAuthResult` (and forged
 * ones claiming our name removed), `tx.replaceMessage`, and a quarantine that does not stop later
 * taps while a later reject still wins.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { formatAuthenticationResults } from '@postern/sdk';
import { stripForgedAuthResults } from '../core/src/smtp/auth-results-header.js';
import { foldHeader } from '../core/src/smtp/fold-header.js';
import { ANN, createEnv, makeMessage, waitFor, WORLD } from './support/index.js';

const plugin = `
export default {
  name: 'auth',
  setup(api) {
    api.tap('mailFrom', (_session, tx) => {
      tx.addAuthResult({ method: 'spf', result: 'pass', props: { 'smtp.mailfrom': tx.mailFrom.address } });
    });
    api.tap('data', (_session, tx) => {
      if (tx.message.toString('latin1').includes('QUARANTINE')) return { action: 'quarantine', folder: 'Junk', reason: 'test' };
      return undefined;
    }, { stage: 100 });
    api.tap('data', (_session, tx) => {
      const text = tx.message.toString('latin1');
      if (text.includes('REJECT-LATER')) return { action: 'reject', message: 'A later tap refuses' };
      tx.addAuthResult({ method: 'dkim', result: 'none', reason: 'no signature; "quoted"' });
      tx.replaceMessage(Buffer.from(text.replace('original body', 'rewritten body'), 'latin1'));
      tx.addHeader('X-Signed-Last', 'yes');
      return undefined;
    }, { stage: 900 });
  },
};`;

/** The header fields of a delivered message, unfolded, in order. */
function headersOf(data: Buffer): string[] {
  const head = data.toString('latin1').split('\r\n\r\n')[0] ?? '';
  return head.split(/\r\n(?![ \t])/).map((f) => f.replace(/\r\n[ \t]+/g, ' '));
}

for (const sandbox of [false, true]) {
  describe(sandbox ? 'a sandboxed plugin' : 'a trusted plugin', () => {
    test('Authentication-Results, a rewritten message and a quarantine that lets later taps run', async (t) => {
      const env = await createEnv(t, { ...WORLD, testPlugins: { auth: plugin }, plugins: { auth: { enabled: true, sandbox } } });
      const client = await env.connect('mx');
      await client.ehlo();
      const forged =
        'Authentication-Results: MX.example.test; spf=pass smtp.mailfrom=boss@example.test\r\n' +
        'Authentication-Results: (comment) mx.example.test;\r\n dkim=pass header.d=example.test\r\n' +
        'Authentication-Results: relay.other.test; dkim=pass header.d=other.test\r\n';
      const message = forged + makeMessage({ body: 'QUARANTINE original body' }).text;
      const sent = await client.send('a@sender.test', [ANN], message);
      assert.equal(sent.final.code, 250, sent.final.raw);

      const refused = await client.send('a@sender.test', [ANN], makeMessage({ body: 'QUARANTINE REJECT-LATER' }).text);
      assert.equal(refused.final.code, 554, 'a reject after a quarantine wins');
      assert.match(refused.final.raw, /A later tap refuses/);
      await client.quit();

      const [file] = await waitFor(async () => {
        const files = await env.mailbox(ANN, 'Junk');
        return files.length > 0 ? files : undefined;
      }, 'the message in Junk');
      assert.equal((await env.mailbox(ANN)).length, 0, 'nothing in INBOX');
      const headers = headersOf(file!.data);
      const ours = headers.filter((h) => /^authentication-results:\s*(\(comment\)\s*)?mx\.example\.test;/i.test(h));
      assert.deepEqual(ours, ['Authentication-Results: mx.example.test; spf=pass smtp.mailfrom=a@sender.test; dkim=none reason="no signature; \\"quoted\\""'], 'one header of ours, the forged ones gone');
      assert.ok(headers.includes('Authentication-Results: relay.other.test; dkim=pass header.d=other.test'), 'another server\'s header stays');
      assert.ok(headers.includes('X-Signed-Last: yes'), 'the tap after the quarantine ran');
      assert.match(file!.data.toString('latin1'), /\r\n\r\nQUARANTINE rewritten body\r\n$/);
      assert.ok(headers.indexOf(ours[0]!) < headers.findIndex((h) => h.startsWith('Received:')), 'Authentication-Results on top');
      const removed = await env.server.waitForLog((l) => l.msg === 'removed Authentication-Results headers that claimed this server');
      assert.equal(removed.removed, 2);
    });
  });
}

describe('Authentication-Results text', () => {
  test('formatting quotes values that are not tokens and refuses what would break the syntax', () => {
    assert.equal(
      formatAuthenticationResults('mx.test', [
        { method: 'dkim', result: 'pass', props: { 'header.d': 'example.test', 'header.s': 'sel', 'header.b': 'abc/+=12' } },
        { method: 'iprev', result: 'fail', reason: 'no PTR', props: { 'policy.iprev': '192.0.2.1' } },
      ]),
      'mx.test;\r\n\tdkim=pass header.d=example.test header.s=sel header.b="abc/+=12";\r\n\tiprev=fail reason="no PTR" policy.iprev=192.0.2.1',
    );
    assert.equal(formatAuthenticationResults('mx.test', []), 'mx.test; none');
    assert.throws(() => formatAuthenticationResults('mx.test', [{ method: 'spf', result: 'pass; dkim=pass' }]), TypeError);
    assert.throws(() => formatAuthenticationResults('mx.test', [{ method: 'spf', result: 'pass', props: { mailfrom: 'x' } }]), TypeError);
  });

  test('only headers claiming our authserv-id are stripped, never the body', () => {
    const body = '\r\nAuthentication-Results: mx.test; spf=pass\r\n';
    const msg = Buffer.from(`Subject: x\r\nAuthentication-Results: mx.test.evil; spf=pass\r\nAuthentication-Results: "mx.test"; spf=pass\r\n${body}`);
    const { message, removed } = stripForgedAuthResults(msg, 'MX.test');
    assert.equal(removed, 1);
    assert.equal(message.toString(), `Subject: x\r\nAuthentication-Results: mx.test.evil; spf=pass\r\n${body}`);
    const plain = Buffer.from('Subject: y\r\n\r\nbody\r\n');
    assert.equal(stripForgedAuthResults(plain, 'mx.test').message, plain, 'untouched when there is nothing to strip');
  });
});

describe('headers the taps add', () => {
  test('are folded at whitespace to 78 characters, and unfold to what the tap gave', () => {
    const value = 'pass (mx.example.test: domain of a@good.test designates 127.0.0.1 as permitted sender) client-ip=127.0.0.1; envelope-from=a@good.test; identity=mailfrom;';
    const folded = foldHeader('Received-SPF', value);
    const lines = `Received-SPF: ${folded}`.split('\r\n');
    assert.ok(lines.length > 1 && lines.every((l) => l.length <= 78), lines.join('\n'));
    assert.ok(lines.slice(1).every((l) => l.startsWith(' ')), 'continuation lines start with the whitespace they were cut at');
    assert.equal(folded.replace(/\r\n/g, ''), value);
    const presigned = 'v=1; a=rsa-sha256;\r\n\tc=relaxed/relaxed; d=example.test;';
    assert.equal(foldHeader('DKIM-Signature', presigned), presigned, 'short folded lines are kept as they are');
    assert.equal(foldHeader('X-Token', 'a'.repeat(100)), 'a'.repeat(100), 'nothing to break at: left long');
  });
});
