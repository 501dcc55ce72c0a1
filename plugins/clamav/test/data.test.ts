import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Stage } from '@postern/sdk';
import { createHarness, HarnessError } from '@postern/sdk/testing';
import plugin, { QUARANTINE_FOLDER } from '../src/index.js';
import type { ClamavResult } from '../src/index.js';
import { MESSAGE, clamavHarness, mimeParts, parseEntity } from './helpers.js';

const INFECTED = { infected: true, viruses: ['Eicar-Signature'] };

test('the data tap runs at Stage.CONTENT with room for the scan timeout', async () => {
  const h = await clamavHarness({ scanTimeoutMs: 3000 });
  assert.deepEqual(h.taps('data').map((t) => [t.stage, t.timeoutMs]), [[Stage.CONTENT, 4000]]);
  assert.deepEqual(h.taps().map((t) => t.hook), ['data']);
});

test('defaults: 127.0.0.1:3310, 10 s, 25 MiB, reject, tempfail', async () => {
  const h = await createHarness(plugin);
  assert.deepEqual({ ...h.options }, { host: '127.0.0.1', port: 3310, scanTimeoutMs: 10_000, maxSizeBytes: 26_214_400, action: 'reject', onError: 'tempfail' });
});

test('the scanner is made with the options', async () => {
  const h = await clamavHarness({ host: '10.0.0.5', port: 3311 });
  assert.equal(h.seen[0]?.host, '10.0.0.5');
  assert.equal(h.seen[0]?.port, 3311);
});

test('a clean message: accepted, X-Virus-Scanned added, result recorded', async () => {
  const h = await clamavHarness({});
  const tx = h.transaction({ recipients: ['ann@example.test'], message: MESSAGE });
  assert.equal(await h.run('data', h.session(), tx), undefined);
  assert.deepEqual(tx.addedHeaders, [['X-Virus-Scanned', 'ClamAV']]);
  assert.deepEqual(tx.results.get<ClamavResult>('clamav'), { infected: false, viruses: [] });
  assert.equal(h.scanned.length, 1);
  assert.equal(h.scanned[0]?.toString(), MESSAGE.replace(/\n/g, '\r\n'));
});

test('infected, action reject: 554 5.7.1 Virus found: <name>', async () => {
  const h = await clamavHarness({}, INFECTED);
  const tx = h.transaction({ recipients: ['ann@example.test'], message: MESSAGE });
  const verdict = await h.run('data', h.session(), tx);
  assert.equal(verdict?.action, 'reject');
  assert.equal(verdict?.code, 554);
  assert.equal(verdict?.enhanced, '5.7.1');
  assert.equal(verdict?.message, 'Virus found: Eicar-Signature');
  assert.equal(verdict?.by, 'clamav');
  assert.deepEqual(tx.results.get<ClamavResult>('clamav'), { infected: true, viruses: ['Eicar-Signature'], action: 'reject' });
  assert.ok(h.log.some((e) => e.level === 'info' && e.msg === 'clamav: virus found'));
});

test('a signature name is made safe for the reply line', async () => {
  const h = await clamavHarness({}, { infected: true, viruses: ['Bad Name\r\n250 ok'] });
  const verdict = await h.run('data', h.session(), h.transaction({ message: MESSAGE }));
  assert.equal(verdict?.message, 'Virus found: Bad_Name_250_ok');
});

test('infected without a name: "unknown"', async () => {
  const h = await clamavHarness({}, { infected: true, viruses: [] });
  const tx = h.transaction({ message: MESSAGE });
  assert.equal((await h.run('data', h.session(), tx))?.message, 'Virus found: unknown');
  assert.deepEqual(tx.results.get<ClamavResult>('clamav')?.viruses, ['unknown']);
});

test('infected, action quarantine: quarantine verdict to the Quarantine folder, header added', async () => {
  const h = await clamavHarness({ action: 'quarantine' }, INFECTED);
  const tx = h.transaction({ recipients: ['ann@example.test'], message: MESSAGE });
  const verdict = await h.run('data', h.session(), tx);
  assert.equal(verdict?.action, 'quarantine');
  assert.equal(verdict?.folder, QUARANTINE_FOLDER);
  assert.equal(QUARANTINE_FOLDER, 'Quarantine');
  assert.match(verdict?.reason ?? '', /Eicar-Signature/);
  assert.deepEqual(tx.addedHeaders, [['X-Virus-Scanned', 'ClamAV']]);
  assert.deepEqual(tx.results.get<ClamavResult>('clamav'), { infected: true, viruses: ['Eicar-Signature'], action: 'quarantine' });
  assert.equal(tx.message?.toString(), MESSAGE.replace(/\n/g, '\r\n'), 'the message is not touched');
});

test('infected, action notice: accepted, the message replaced by a notice with the original attached', async () => {
  const h = await clamavHarness({ action: 'notice' }, INFECTED);
  const tx = h.transaction({ id: 'Q1234', mailFrom: 'a@example.test', recipients: ['ann@example.test'], message: MESSAGE });
  const original = tx.message!;
  assert.equal(await h.run('data', h.session(), tx), undefined);
  assert.deepEqual(tx.addedHeaders, [['X-Virus-Scanned', 'ClamAV']]);
  assert.deepEqual(tx.results.get<ClamavResult>('clamav'), { infected: true, viruses: ['Eicar-Signature'], action: 'notice' });
  const notice = parseEntity(tx.message!);
  assert.match(notice.headers.get('from')!, /^Mail Delivery System <MAILER-DAEMON@mx\.postern\.test>$/);
  assert.equal(notice.headers.get('subject'), '[virus removed] hi');
  assert.match(notice.headers.get('content-type')!, /^multipart\/mixed; boundary=/);
  const [text, attachment] = mimeParts(notice);
  assert.match(text!.body, /Eicar-Signature/);
  assert.match(text!.body, /Queue ID:\s+Q1234/);
  assert.equal(Buffer.from(attachment!.body, 'base64').toString('latin1'), original.toString('latin1'));
  assert.ok(h.log.some((e) => e.level === 'info' && e.msg === 'clamav: virus found'));
});

test('a clean message is never replaced, whatever the action', async () => {
  const h = await clamavHarness({ action: 'notice' });
  const tx = h.transaction({ message: MESSAGE });
  assert.equal(await h.run('data', h.session(), tx), undefined);
  assert.equal(tx.message?.toString(), MESSAGE.replace(/\n/g, '\r\n'));
});

test('authenticated (submission) and trusted (relay) senders are scanned too, and refused whatever the action', async () => {
  for (const action of ['reject', 'quarantine', 'notice'] as const) {
    const h = await clamavHarness({ action }, INFECTED);
    for (const session of [h.session({ listener: 'submission', user: 'ann@example.test' }), h.session({ listener: 'mx', trusted: true })]) {
      const tx = h.transaction({ recipients: ['someone@remote.test'], message: MESSAGE });
      const verdict = await h.run('data', session, tx);
      assert.equal(verdict?.code, 554, `${action}: a virus never leaves through us`);
      assert.equal(tx.message?.toString(), MESSAGE.replace(/\r?\n/g, '\r\n'), 'not replaced by a notice');
    }
    assert.equal(h.scanned.length, 2);
  }
});

test('clamd fails, onError tempfail (default): 451 4.7.1, skipped error, no header', async () => {
  const h = await clamavHarness({}, { error: 'connect ECONNREFUSED 127.0.0.1:3310' });
  const tx = h.transaction({ message: MESSAGE });
  const verdict = await h.run('data', h.session(), tx);
  assert.equal(verdict?.action, 'tempfail');
  assert.equal(verdict?.code, 451);
  assert.equal(verdict?.enhanced, '4.7.1');
  assert.doesNotMatch(verdict?.message ?? '', /ECONNREFUSED/);
  assert.match(verdict?.reason ?? '', /ECONNREFUSED/);
  assert.deepEqual(tx.addedHeaders, []);
  assert.deepEqual(tx.results.get<ClamavResult>('clamav'), { infected: false, viruses: [], skipped: 'error' });
  assert.ok(h.log.some((e) => e.level === 'warn' && e.msg === 'clamav: scan failed'));
});

test('clamd fails, onError accept: accepted unscanned', async () => {
  const h = await clamavHarness({ onError: 'accept' }, { error: 'boom' });
  const tx = h.transaction({ message: MESSAGE });
  assert.equal(await h.run('data', h.session(), tx), undefined);
  assert.deepEqual(tx.addedHeaders, []);
  assert.equal(tx.results.get<ClamavResult>('clamav')?.skipped, 'error');
});

test('clamd slow: past scanTimeoutMs it is a 451 (or accept), not the tap timeout', async () => {
  const h = await clamavHarness({ scanTimeoutMs: 50 }, 'hang');
  const started = Date.now();
  const verdict = await h.run('data', h.session(), h.transaction({ message: MESSAGE }));
  assert.equal(verdict?.code, 451);
  assert.ok(Date.now() - started < 1000);
  const lenient = await clamavHarness({ scanTimeoutMs: 50, onError: 'accept' }, 'hang');
  assert.equal(await lenient.run('data', lenient.session(), lenient.transaction({ message: MESSAGE })), undefined);
});

test('a message over maxSizeBytes is not scanned: accepted, skipped too-large, no header', async () => {
  const h = await clamavHarness({ maxSizeBytes: 10 }, INFECTED);
  const tx = h.transaction({ message: MESSAGE });
  assert.equal(await h.run('data', h.session(), tx), undefined);
  assert.equal(h.scanned.length, 0);
  assert.deepEqual(tx.addedHeaders, []);
  assert.deepEqual(tx.results.get<ClamavResult>('clamav'), { infected: false, viruses: [], skipped: 'too-large' });
});

test('no message (not at DATA): nothing', async () => {
  const h = await clamavHarness({}, INFECTED);
  assert.equal(await h.run('data', h.session(), h.transaction()), undefined);
  assert.equal(h.scanned.length, 0);
});

test('validate lists every bad option', async () => {
  await assert.rejects(
    clamavHarness({ host: '', port: 70000, scanTimeoutMs: 0, maxSizeBytes: -1, action: 'drop' as never, onError: 'ignore' as never }),
    (err: unknown) => {
      assert.ok(err instanceof HarnessError);
      assert.match(err.message, /action: must be reject, quarantine or notice/);
      for (const key of ['host:', 'port:', 'scanTimeoutMs:', 'maxSizeBytes:', 'action:', 'onError:']) assert.match(err.message, new RegExp(key));
      return true;
    },
  );
});
