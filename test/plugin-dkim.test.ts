/**
 * The dkim plugin end to end: a real Postern with a DKIM key made by the real CLI
 * (`postern dkim keygen`), a real DNS (dnsmasq) publishing the record the CLI printed plus a remote
 * domain's key, SPF and DMARC records, a real smarthost (Postfix's smtp-sink) catching outbound
 * mail, and two independent verifiers of what Postern signs: mailauth and Perl's Mail::DKIM.
 */
import assert from 'node:assert/strict';
import { Resolver } from 'node:dns/promises';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { dkimVerify } from 'mailauth/lib/dkim/verify.js';
import { stringify } from 'yaml';
import { readManifest, validatePluginOptions } from '../core/src/plugin-host/manifest.js';
import dkimPlugin from '../plugins/dkim/src/index.js';
import {
  ANN,
  cleanupList,
  createEnv,
  makeMessage,
  PASSWORD,
  postern,
  posternOk,
  sendWithNodemailer,
  sleep,
  startDns,
  startSmtpSink,
  WORLD,
  type DnsServer,
  type Env,
  type SmtpSink,
} from './support/index.js';
import { dkimKey, opendkimSign, perlDkimVerify, signWith, type DkimKey } from './support/dkim-tools.js';

const cleanup = cleanupList();
after(() => cleanup.run());

let env: Env;
let dns: DnsServer;
let sink: SmtpSink;
let keygenOut: string;
let remoteKey: DkimKey;

/** The TXT record `postern dkim keygen` printed: name and character-strings. */
function parseRecord(stdout: string): { name: string; strings: string[] } {
  const m = /^(\S+)\. IN TXT \( (.*) \)$/m.exec(stdout);
  assert.ok(m, `no TXT record line in:\n${stdout}`);
  const strings = [...m[2]!.matchAll(/"([^"]*)"/g)].map((s) => s[1]!);
  return { name: m[1]!, strings };
}

before(async () => {
  sink = await startSmtpSink(cleanup);
  env = await createEnv(cleanup, {
    ...WORLD,
    start: false,
    plugins: { dkim: { enabled: true, lookupTimeoutMs: 1000 } },
    extra: { outbound: { smarthost: { host: '127.0.0.1', port: sink.port, tls: 'none' }, connectTimeoutMs: 2000 } },
  });
  // The key comes from the real CLI, reading dataDir from the config like every command.
  keygenOut = (await posternOk(['dkim', 'keygen', 'example.test', '--bits', '1024'], { config: env.configPath })).stdout;
  const published = parseRecord(keygenOut);
  remoteKey = dkimKey('rsa', 1024);
  dns = await startDns(cleanup, {
    txt: [
      { name: published.name, text: published.strings },
      { name: 'sel._domainkey.remote.test', text: remoteKey.txt },
      { name: 'remote.test', text: 'v=spf1 ip4:127.0.0.1 -all' },
      { name: '_dmarc.remote.test', text: 'v=DMARC1; p=reject' },
      { name: '_dmarc.reject.test', text: 'v=DMARC1; p=reject' },
      { name: '_dmarc.quarantine.test', text: 'v=DMARC1; p=quarantine' },
    ],
  });
  await writeFile(env.configPath, stringify({ ...env.config, dns: { servers: [dns.server], timeoutMs: 1000 } }));
  await env.start();
});

function resolver() {
  const r = new Resolver({ timeout: 1000, tries: 1 });
  r.setServers([dns.server]);
  return (name: string, rrtype: string) => (rrtype === 'TXT' ? r.resolveTxt(name) : Promise.reject(Object.assign(new Error('ENODATA'), { code: 'ENODATA' })));
}

async function mailauthResults(message: Buffer) {
  const result = await dkimVerify(message, { resolver: resolver() as never });
  return result.results.map((r) => ({ result: r.status.result, domain: r.signingDomain, selector: r.selector }));
}

/** The folder's only message once it is there. */
async function onlyMessage(folder = 'INBOX'): Promise<string> {
  for (let i = 0; i < 100; i++) {
    const files = await env.mailbox(ANN, folder);
    if (files.length > 0) {
      assert.equal(files.length, 1);
      return files[0]!.data.toString('latin1');
    }
    await sleep(50);
  }
  assert.fail(`nothing arrived in ${ANN}'s ${folder}`);
}

test('postern dkim keygen: a 0600 PEM at dataDir/dkim/DOMAIN/postern.key; no overwrite without --force; record reprints it', async () => {
  const file = join(env.dataDir, 'dkim', 'example.test', 'postern.key');
  assert.match(keygenOut, /^wrote .*postern\.key \(rsa 1024 bits, selector postern\)$/m);
  assert.equal((await stat(file)).mode & 0o777, 0o600);
  const published = parseRecord(keygenOut);
  assert.equal(published.name, 'postern._domainkey.example.test');
  assert.equal(published.strings[0], 'v=DKIM1; k=rsa; ');
  assert.ok(published.strings.every((s) => s.length <= 255));

  const again = await postern(['dkim', 'keygen', 'example.test'], { config: env.configPath });
  assert.equal(again.code, 1);
  assert.match(again.stderr, /\(POSTERN_DKIM_KEY_EXISTS\)$/m);
  const record = await posternOk(['dkim', 'record', 'example.test'], { config: env.configPath });
  assert.deepEqual(parseRecord(record.stdout), published);
  const missing = await postern(['dkim', 'record', 'example.test', '--selector', 'nope'], { config: env.configPath });
  assert.match(missing.stderr, /\(POSTERN_DKIM_KEY_NOT_FOUND\)$/m);

  // Ed25519 (RFC 8463): p= is the bare 32-byte key, and it verifies what the key file signs.
  const ed = parseRecord((await posternOk(['dkim', 'keygen', 'example.test', '--algorithm', 'ed25519', '--selector', 'ed'], { config: env.configPath })).stdout);
  assert.equal(ed.strings[0], 'v=DKIM1; k=ed25519; ');
  assert.match(ed.strings[1]!, /^p=[A-Za-z0-9+/]{43}=$/);
  const edKey = { pem: await readFile(join(env.dataDir, 'dkim', 'example.test', 'ed.key'), 'utf8'), txt: ed.strings };
  const edSigned = await signWith(makeMessage({ from: ANN }).text, 'example.test', 'ed', edKey);
  const edVerified = await dkimVerify(edSigned, { resolver: async (name: string) => (name === 'ed._domainkey.example.test' ? [ed.strings] : []) } as never);
  assert.deepEqual(edVerified.results.map((r) => [r.status.result, r.algo]), [['pass', 'ed25519-sha256']]);
  const badBits = await postern(['dkim', 'keygen', 'example.test', '--selector', 'small', '--bits', '512'], { config: env.configPath });
  assert.equal(badBits.code, 2);
  assert.match(badBits.stderr, /--bits .*\(POSTERN_USAGE\)$/m);

  // The key file works with OpenDKIM too, and Mail::DKIM verifies its signature against the printed record.
  const byOpendkim = await opendkimSign(makeMessage({ from: ANN }).text, 'example.test', 'postern', file);
  const perl = await perlDkimVerify(byOpendkim, dns.port);
  assert.deepEqual([perl.result, perl.signatures[0]?.domain, perl.signatures[0]?.selector], ['pass', 'example.test', 'postern'], JSON.stringify(perl));
});

test('submitted mail relayed out is signed; mailauth and Mail::DKIM verify it against the CLI\'s record; a tampered body fails both', async () => {
  const message = makeMessage({ from: `Ann <${ANN}>`, to: 'bob@remote.test', subject: 'signed by postern' });
  const sent = await sendWithNodemailer({ port: env.ports.submission!, requireTLS: true, auth: { user: ANN, pass: PASSWORD }, from: ANN, to: ['bob@remote.test'], raw: message.bytes });
  assert.ok(sent.queueId, sent.response);
  const [received] = await sink.waitForMessages(1);
  const data = received!.data;
  const text = data.toString('latin1');
  assert.match(text, /^DKIM-Signature: v=1; a=rsa-sha256; c=relaxed\/relaxed; d=example\.test;/m);
  assert.match(text, /\r\n s=postern;|; s=postern;/);
  assert.ok(data.subarray(data.length - message.bytes.length).equals(message.bytes), 'the message itself is unchanged');

  assert.deepEqual(await mailauthResults(data), [{ result: 'pass', domain: 'example.test', selector: 'postern' }]);
  const perl = await perlDkimVerify(data, dns.port);
  assert.equal(perl.result, 'pass', JSON.stringify(perl));
  assert.deepEqual(perl.signatures.map((s) => [s.domain, s.selector, s.result]), [['example.test', 'postern', 'pass']]);

  const tampered = Buffer.from(text.replace('Hello Ann,', 'Hello Bob,'), 'latin1');
  assert.notEqual((await mailauthResults(tampered))[0]?.result, 'pass');
  const perlTampered = await perlDkimVerify(tampered, dns.port);
  assert.equal(perlTampered.result, 'fail', JSON.stringify(perlTampered));
  assert.match(perlTampered.details, /body has been altered/);
});

test('inbound mail signed by remote.test: dkim=pass in the delivered Authentication-Results; DMARC p=reject unaligned: 550 5.7.1; p=quarantine: Junk', async () => {
  const client = await env.connect('mx');
  await client.ehlo('mail.remote.test');
  const letter = makeMessage({ from: 'Rita <rita@remote.test>', to: ANN, subject: 'signed by remote' });
  const signed = await signWith(letter.text, 'remote.test', 'sel', remoteKey);
  const ok = await client.send('rita@remote.test', [ANN], signed);
  assert.equal(ok.final.code, 250, ok.final.raw);

  // From reject.test (p=reject), no signature, MAIL FROM a domain without SPF: nothing aligns.
  const spoof = makeMessage({ from: 'CEO <ceo@reject.test>', to: ANN, subject: 'urgent wire transfer' });
  const refused = await client.send('x@elsewhere.test', [ANN], spoof.text);
  assert.equal(refused.final.code, 550, refused.final.raw);
  assert.match(refused.final.raw, /5\.7\.1/);
  assert.match(refused.final.raw, /DMARC/);

  const junk = makeMessage({ from: 'a@quarantine.test', to: ANN, subject: 'p=quarantine' });
  const quarantined = await client.send('x@elsewhere.test', [ANN], junk.text);
  assert.equal(quarantined.final.code, 250, quarantined.final.raw);
  await client.quit();

  const delivered = await onlyMessage();
  const ar = /^Authentication-Results: ([^\r\n]*(?:\r\n[ \t][^\r\n]*)*)/m.exec(delivered)?.[1]?.replace(/\r\n[ \t]/g, ' ');
  assert.ok(ar, `no Authentication-Results in:\n${delivered.slice(0, 2000)}`);
  assert.match(ar, /^mx\.example\.test;/);
  assert.match(ar, /dkim=pass [^;]*header\.d=remote\.test header\.s=sel/);
  assert.match(ar, /dmarc=pass [^;]*header\.from=remote\.test/);
  assert.match(delivered, /Subject: signed by remote/);
  assert.match(await onlyMessage('Junk'), /Subject: p=quarantine/);
});

test('the manifest validates and its schema defaults are the plugin\'s defaults; a bad option is named', async () => {
  const manifest = await readManifest(new URL('../plugins/dkim', import.meta.url).pathname);
  assert.equal(manifest.name, dkimPlugin.name);
  assert.deepEqual(manifest.permissions, { dns: true });
  const { options, errors } = validatePluginOptions(manifest, { enabled: true });
  assert.deepEqual(errors, []);
  assert.deepEqual(options, dkimPlugin.defaults);
  assert.deepEqual(dkimPlugin.validate?.(options as never), []);
  assert.deepEqual(validatePluginOptions(manifest, { dmarc: { rejectAction: 'drop' } }).errors.length, 1);
});
