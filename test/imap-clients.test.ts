/**
 * Real IMAP clients against a real Postern: python3's imaplib, imapflow (npm) and curl each log
 * in (STARTTLS and implicit TLS), list, fetch a message delivered over SMTP, and delete it; an
 * imapflow client in IDLE is told of a new delivery within a second.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ImapFlow } from 'imapflow';
import { ANN, BOB, cleanupList, createEnv, makeMessage, PASSWORD, pythonJson, run, sendWithNodemailer, WORLD, type Env } from './support/index.js';

/**
 * python3 imaplib: PORT, MODE (starttls | ssl), USER, PASS, SUBJECT. Logs in, lists, selects
 * INBOX, finds the message with SUBJECT, fetches it, deletes it (STORE \Deleted + EXPUNGE).
 */
const IMAPLIB = String.raw`
import imaplib, json, os, ssl
env = os.environ
ctx = ssl._create_unverified_context()
out = {}
if env["MODE"] == "ssl":
    m = imaplib.IMAP4_SSL("127.0.0.1", int(env["PORT"]), ssl_context=ctx, timeout=10)
else:
    m = imaplib.IMAP4("127.0.0.1", int(env["PORT"]), timeout=10)
    out["starttls"] = m.starttls(ssl_context=ctx)[0]
out["login"] = m.login(env["USER"], env["PASS"])[0]
typ, folders = m.list()
out["list"] = [f.decode() for f in folders]
typ, data = m.select("INBOX")
out["exists"] = int(data[0])
typ, data = m.search(None, "SUBJECT", '"' + env["SUBJECT"] + '"')
nums = data[0].split()
out["found"] = len(nums)
typ, data = m.fetch(nums[0], "(RFC822 FLAGS)")
out["message"] = data[0][1].decode("utf-8")
out["flags"] = data[0][0].decode()
out["store"] = m.store(nums[0], "+FLAGS", "\\Deleted")[0]
typ, data = m.expunge()
out["expunged"] = [d.decode() for d in data if d]
typ, data = m.select("INBOX")
out["after"] = int(data[0])
m.logout()
print(json.dumps(out))
`;

interface ImaplibResult {
  starttls?: string;
  login: string;
  list: string[];
  exists: number;
  found: number;
  message: string;
  flags: string;
  store: string;
  expunged: string[];
  after: number;
}

describe('IMAP with real clients', () => {
  let env: Env;
  const cleanup = cleanupList();
  after(async () => {
    await cleanup.run();
  });

  before(async () => {
    env = await createEnv(
      cleanup,
      { ...WORLD, mailListeners: { imap: [{ name: 'imap', tls: 'starttls' }, { name: 'imaps', tls: 'implicit' }] } },
    );
  });

  /** Deliver a message over SMTP and wait until it is in the Maildir. */
  async function deliver(to: string, subject: string): Promise<string> {
    const message = makeMessage({ subject, to });
    const sent = await sendWithNodemailer({ port: env.ports.mx!, from: 'sender@client.example.test', to: [to], raw: message.bytes });
    await env.server.waitForDelivery(sent.queueId!, to);
    return message.text;
  }

  for (const mode of ['starttls', 'ssl'] as const) {
    test(`python imaplib (${mode === 'ssl' ? 'implicit TLS' : 'STARTTLS'}): login, list, fetch, delete`, async () => {
      const subject = `imaplib ${mode} ${Date.now()}`;
      const text = await deliver(ANN, subject);
      const result = await pythonJson<ImaplibResult>(IMAPLIB, { PORT: mode === 'ssl' ? env.ports.imaps! : env.ports.imap!, MODE: mode, USER: ANN, PASS: PASSWORD, SUBJECT: subject });
      if (mode === 'starttls') assert.equal(result.starttls, 'OK');
      assert.equal(result.login, 'OK');
      assert.ok(result.list.includes('(\\HasNoChildren) "/" "INBOX"'), result.list.join('\n'));
      assert.ok(result.list.some((l) => l.includes('\\Sent')), result.list.join('\n'));
      assert.equal(result.found, 1);
      assert.ok(result.message.endsWith(text), result.message);
      assert.match(result.message, /^Received: /);
      assert.match(result.flags, /FLAGS \(\\Seen/);
      assert.equal(result.expunged.length, 1);
      assert.equal(result.after, result.exists - 1);
    });
  }

  for (const secure of [true, false]) {
    test(`imapflow (${secure ? 'implicit TLS' : 'STARTTLS'}): login, list, fetch, delete`, async () => {
      const subject = `imapflow ${secure} ${Date.now()}`;
      const text = await deliver(BOB, subject);
      const client = new ImapFlow({
        host: '127.0.0.1',
        port: secure ? env.ports.imaps! : env.ports.imap!,
        secure,
        tls: { rejectUnauthorized: false },
        auth: { user: BOB, pass: PASSWORD },
        logger: false,
      });
      await client.connect();
      try {
        assert.ok(client.capabilities.has('IDLE'));
        const folders = await client.list();
        assert.deepEqual(folders.map((f) => f.path).sort(), ['Drafts', 'INBOX', 'Junk', 'Sent', 'Trash']);
        assert.equal(folders.find((f) => f.path === 'Sent')?.specialUse, '\\Sent');
        const lock = await client.getMailboxLock('INBOX');
        try {
          const uids = await client.search({ subject }, { uid: true });
          assert.ok(uids !== false && uids.length === 1, String(uids));
          const uid = (uids as number[])[0]!;
          const message = await client.fetchOne(String(uid), { envelope: true, source: true, flags: true, bodyStructure: true }, { uid: true });
          assert.ok(message);
          assert.equal(message.envelope?.subject, subject);
          assert.equal(message.envelope?.from?.[0]?.address, 'sender@client.example.test');
          assert.ok(message.source?.toString('utf8').endsWith(text));
          assert.equal(message.bodyStructure?.type, 'text/plain');
          assert.equal(await client.messageDelete(String(uid), { uid: true }), true);
          const left = await client.search({ subject }, { uid: true });
          assert.deepEqual(left, []);
        } finally {
          lock.release();
        }
        const status = await client.status('INBOX', { messages: true, uidNext: true, unseen: true });
        assert.equal(typeof status.messages, 'number');
      } finally {
        await client.logout();
      }
    });
  }

  for (const mode of ['starttls', 'implicit'] as const) {
    test(`curl (${mode === 'implicit' ? 'imaps://' : 'imap:// --ssl-reqd'}): login, list, fetch, delete`, async () => {
      const subject = `curl ${mode} ${Date.now()}`;
      const text = await deliver(ANN, subject);
      const base = mode === 'implicit' ? `imaps://127.0.0.1:${env.ports.imaps}` : `imap://127.0.0.1:${env.ports.imap}`;
      const curl = async (path: string, ...extra: string[]) => {
        const result = await run('curl', ['-s', '-S', '-k', '--max-time', '10', ...(mode === 'starttls' ? ['--ssl-reqd'] : []), '--user', `${ANN}:${PASSWORD}`, `${base}${path}`, ...extra]);
        assert.equal(result.code, 0, `curl ${path} ${extra.join(' ')}: ${result.stderr}`);
        return result.stdout;
      };
      const listing = await curl('/');
      assert.match(listing, /\* LIST \(\\HasNoChildren\) "\/" "INBOX"/);
      const search = await curl('/INBOX', '-X', `SEARCH SUBJECT "${subject}"`);
      const seq = /\* SEARCH (\d+)/.exec(search)?.[1];
      assert.ok(seq, search);
      // A custom FETCH prints the untagged response line (curl does not print a literal's data there)...
      const custom = await curl('/INBOX', '-X', `FETCH ${seq} BODY[]`);
      const size = /^\* \d+ FETCH \(FLAGS \(\\Seen\) BODY\[\] \{(\d+)\}/.exec(custom)?.[1];
      assert.ok(size, custom);
      // ...the URL forms (FETCH n BODY[] / UID FETCH) print the message itself.
      const fetched = await curl(`/INBOX;MAILINDEX=${seq}`);
      assert.ok(fetched.endsWith(text), fetched);
      assert.equal(Buffer.byteLength(fetched), Number(size));
      const uid = /\* SEARCH (\d+)/.exec(await curl('/INBOX', '-X', `UID SEARCH SUBJECT "${subject}"`))?.[1];
      assert.equal(await curl(`/INBOX;UID=${uid}`), fetched);
      await curl('/INBOX', '-X', `STORE ${seq} +FLAGS \\Deleted`);
      const expunged = await curl('/INBOX', '-X', 'EXPUNGE');
      assert.match(expunged, new RegExp(`\\* ${seq} EXPUNGE`));
      const after = await curl('/INBOX', '-X', `SEARCH SUBJECT "${subject}"`);
      assert.match(after, /^\* SEARCH\r?$/m);
    });
  }

  test('a wrong password is refused, for every client', async () => {
    const result = await run('curl', ['-s', '-k', '--max-time', '10', '--user', `${ANN}:wrong`, `imaps://127.0.0.1:${env.ports.imaps}/`]);
    assert.equal(result.code, 67, `curl exit ${result.code}: login denied`);
    const client = new ImapFlow({ host: '127.0.0.1', port: env.ports.imaps!, secure: true, tls: { rejectUnauthorized: false }, auth: { user: ANN, pass: 'wrong' }, logger: false });
    await assert.rejects(client.connect(), (err: Error & { authenticationFailed?: boolean }) => err.authenticationFailed === true);
  });

  test('imapflow in IDLE is told of a new delivery within a second', async () => {
    const client = new ImapFlow({
      host: '127.0.0.1',
      port: env.ports.imaps!,
      secure: true,
      tls: { rejectUnauthorized: false },
      auth: { user: BOB, pass: PASSWORD },
      logger: false,
    });
    await client.connect();
    try {
      const mailbox = await client.mailboxOpen('INBOX');
      const before = mailbox.exists;
      void client.idle();
      const deadline = Date.now() + 5000;
      while (!client.idling && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
      assert.ok(client.idling, 'imapflow is idling');
      const told = new Promise<{ count: number; at: number }>((resolve) => client.on('exists', (data: { count: number }) => resolve({ count: data.count, at: Date.now() })));
      const subject = `idle ${Date.now()}`;
      const sent = await sendWithNodemailer({ port: env.ports.mx!, from: 'sender@client.example.test', to: [BOB], raw: makeMessage({ subject, to: BOB }).bytes });
      const accepted = Date.now();
      const exists = await Promise.race([told, new Promise<never>((_, reject) => setTimeout(() => reject(new Error('no EXISTS within 5 s')), 5000))]);
      assert.equal(exists.count, before + 1);
      assert.ok(exists.at - accepted < 1000, `EXISTS ${exists.at - accepted} ms after the 250`);
      await env.server.waitForDelivery(sent.queueId!, BOB);
    } finally {
      await client.logout();
    }
  });
});
