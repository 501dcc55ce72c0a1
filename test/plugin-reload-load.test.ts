/**
 * Hot reload under load, as an admin does it: a plugin's TypeScript file is edited while clients
 * send continuously and one session sits mid-transaction. The session in flight finishes under the
 * old code, new sessions get the new code, and no connection fails and no message is lost.
 */
import assert from 'node:assert/strict';
import { cp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { createEnv, makeMessage, RawSmtp, WORLD } from './support/index.js';

const ANN = 'ann@example.test';
const BOB = 'bob@example.test';
const TEMPLATE = new URL('../plugins/_template/', import.meta.url).pathname;

test('editing a plugin .ts file under load: in-flight session on the old code, new sessions on the new, nothing lost', async (t) => {
  const env = await createEnv(t, { ...WORLD, start: false });
  // The plugin: the copy-me template, from source (TypeScript, compiled by Postern at load).
  const pluginDir = join(env.dir, 'site-plugins', 'my-plugin');
  await cp(TEMPLATE, pluginDir, { recursive: true, filter: (src) => !src.includes('node_modules') });
  const config = (await readFile(env.configPath, 'utf8')).replace(/^plugins:\n/m, `plugins:\n  paths: [./site-plugins]\n  my-plugin: { enabled: true, blockedLocalParts: [noreply] }\n`);
  await writeFile(env.configPath, config);
  await env.start();

  // Continuous senders: fresh connections, one message each, for the whole test.
  let sending = true;
  const accepted: string[] = [];
  const failures: string[] = [];
  const sender = async (n: number) => {
    for (let i = 0; sending; i++) {
      try {
        const { client, greeting } = await RawSmtp.connect(env.ports.mx!);
        if (greeting.code !== 220) throw new Error(`greeting ${greeting.raw}`);
        await client.ehlo();
        const message = makeMessage({ subject: `load ${n}-${i}` });
        const sent = await client.send('load@client.test', [ANN], message.text);
        if (sent.final.code !== 250) throw new Error(`final ${sent.final.raw}`);
        accepted.push(message.id);
        await client.quit();
      } catch (err) {
        failures.push(`sender ${n}: ${(err as Error).message}`);
      }
    }
  };
  const load = [0, 1, 2].map(sender);

  // A session in flight: MAIL and RCPT done under generation 1.
  const inFlight = await env.connect('mx');
  await inFlight.ehlo();
  assert.equal((await inFlight.cmd('MAIL FROM:<slow@client.test>')).code, 250);
  assert.equal((await inFlight.cmd(`RCPT TO:<${ANN}>`)).code, 250);

  // The edit: version 2 of the code also refuses bob.
  const source = join(pluginDir, 'src', 'index.ts');
  const v1 = await readFile(source, 'utf8');
  const v2 = v1.replace("const blocked = new Set(api.options.blockedLocalParts.map((p) => p.toLowerCase()));", "const blocked = new Set([...api.options.blockedLocalParts.map((p) => p.toLowerCase()), 'bob']);");
  assert.notEqual(v2, v1, 'the edit applies to the template source');
  await new Promise((r) => setTimeout(r, 300));
  await writeFile(source, v2);
  await env.server.waitForLog((l) => l.msg === 'plugin generation is now current' && l.generation === 2, 15_000);

  // In flight: still generation 1, so bob is accepted and the message completes.
  assert.equal((await inFlight.cmd(`RCPT TO:<${BOB}>`)).code, 250, 'the session in flight keeps the old code');
  assert.equal((await inFlight.cmd('DATA')).code, 354);
  const slow = makeMessage({ subject: 'in flight' });
  assert.equal((await inFlight.cmd(`${slow.text}.`)).code, 250);
  accepted.push(slow.id);
  await inFlight.quit();

  // New sessions: generation 2 refuses bob.
  const fresh = await env.connect('mx');
  await fresh.ehlo();
  await fresh.cmd('MAIL FROM:<x@client.test>');
  const refused = await fresh.cmd(`RCPT TO:<${BOB}>`);
  assert.equal(refused.code, 550, 'new sessions run the edited code');
  await fresh.quit();

  await new Promise((r) => setTimeout(r, 500));
  sending = false;
  await Promise.all(load);
  assert.deepEqual(failures, [], 'no connection failed during the reload');
  assert.ok(accepted.length > 10, `the load kept flowing (${accepted.length} messages)`);

  // Every accepted message is delivered, once.
  const deadline = Date.now() + 15_000;
  let inbox: string[] = [];
  while (Date.now() < deadline) {
    inbox = (await env.mailbox(ANN)).map((f) => /Message-ID: <([^>]+)>/.exec(f.data.toString('latin1'))?.[1] ?? '');
    if (accepted.every((id) => inbox.includes(id))) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  for (const id of accepted) assert.equal(inbox.filter((x) => x === id).length, 1, `message ${id} delivered exactly once`);
});
