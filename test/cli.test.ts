/**
 * The `postern` CLI as users run it: a real `node core/dist/cli/main.js` process per command.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { createConnection, createServer } from 'node:net';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createSecureContext } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { SqliteDirectory } from '../core/src/directory/sqlite-directory.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = join(ROOT, 'core/dist/cli/main.js');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function postern(args: string[], options: { cwd?: string; input?: string; env?: NodeJS.ProcessEnv } = {}): Run {
  const result = spawnSync(process.execPath, [BIN, ...args], {
    cwd: options.cwd,
    input: options.input ?? '',
    env: { ...process.env, POSTERN_CONFIG: '', ...options.env },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

function ok(run: Run): string {
  assert.equal(run.code, 0, `exit ${run.code}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`);
  return run.stdout;
}

describe('postern CLI', () => {
  let dir: string;
  let config: string;

  before(() => {
    try {
      execFileSync('npx', ['tsc', '-b', 'core'], { cwd: ROOT, stdio: 'pipe' });
    } catch (err) {
      // tsc still emits JavaScript on type errors; those are the build's business, not this test's.
      process.stderr.write(`warning: npx tsc -b core reported errors:\n${String((err as { stdout?: unknown }).stdout)}\n`);
      assert.ok(existsSync(BIN), `${BIN} was not built`);
    }
    dir = mkdtempSync(join(tmpdir(), 'postern-cli-'));
    config = join(dir, 'postern.yaml');
  });

  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  describe('init and check-config', () => {
    it('writes a config that check-config accepts', () => {
      ok(postern(['init', '--dir', dir, '--hostname', 'mail.example.test']));
      const checked = postern(['check-config', '--config', config]);
      assert.equal(ok(checked).trim(), `ok: ${config}`);
      // The default path: ./postern.yaml in the working directory.
      assert.equal(ok(postern(['check-config'], { cwd: dir })).trim(), 'ok: postern.yaml');
      const yaml = readFileSync(config, 'utf8');
      assert.match(yaml, /port: 25\b/);
      assert.match(yaml, /port: 587\b/);
      assert.match(yaml, /port: 465\b/);
    });

    it('writes a key and certificate that node:tls can load', () => {
      const key = readFileSync(join(dir, 'data/tls/key.pem'));
      const cert = readFileSync(join(dir, 'data/tls/cert.pem'));
      assert.doesNotThrow(() => createSecureContext({ key, cert }));
      const x509 = new X509Certificate(cert);
      assert.match(x509.subject, /CN=mail\.example\.test/);
      assert.equal(x509.subjectAltName, 'DNS:mail.example.test');
      assert.ok(x509.checkPrivateKey(createPrivateKey(key)));
      assert.equal(createPrivateKey(key).asymmetricKeyDetails?.modulusLength, 2048);
      const days = (Date.parse(x509.validTo) - Date.now()) / 86_400_000;
      assert.ok(days > 823 && days <= 826, `valid for ${days} days`);
      assert.equal(statSync(join(dir, 'data/tls/key.pem')).mode & 0o077, 0, 'key readable by others');
    });

    it('refuses to overwrite a config without --force, and keeps the certificate with it', () => {
      const cert = readFileSync(join(dir, 'data/tls/cert.pem'), 'utf8');
      const refused = postern(['init', '--dir', dir]);
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /^postern: .*already exists.* \(POSTERN_CONFIG_EXISTS\)\n$/);
      ok(postern(['init', '--dir', dir, '--hostname', 'mail.example.test', '--force']));
      assert.equal(readFileSync(join(dir, 'data/tls/cert.pem'), 'utf8'), cert);
    });

    it('reports broken YAML with its line and exits non-zero', () => {
      const bad = join(dir, 'broken.yaml');
      writeFileSync(bad, 'hostname: a\nsmtp:\n  banner: [oops\n  maxRecipients: 3\n');
      const run = postern(['check-config', '--config', bad]);
      assert.equal(run.code, 1);
      assert.match(run.stderr, new RegExp(`^${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+:\\d+: .+`, 'm'));
      assert.match(run.stderr, /\(POSTERN_CONFIG_UNREADABLE\)/);
      assert.equal(run.stdout, '');
    });

    it('reports a misspelt key with its path and line', () => {
      const bad = join(dir, 'misspelt.yaml');
      writeFileSync(bad, 'hostname: mx.example.test\nsmtp:\n  maxMesageSize: 10\n');
      const run = postern(['check-config'], { env: { POSTERN_CONFIG: bad } });
      assert.equal(run.code, 1);
      assert.ok(run.stderr.includes(`${bad}:3: smtp.maxMesageSize: unknown key\n`), run.stderr);
      assert.match(run.stderr, /\(POSTERN_CONFIG_INVALID\)/);
    });

    it('checks the options of enabled plugins against their manifests, and names an unknown plugin', () => {
      const bad = join(dir, 'plugins.yaml');
      writeFileSync(bad, 'hostname: mx.example.test\nplugins:\n  spamassassin: { enabled: true, port: 70000, colour: red }\n  clamav: { enabled: false, port: 0 }\n');
      const run = postern(['check-config', '--config', bad]);
      assert.equal(run.code, 1, run.stderr);
      assert.match(run.stderr, /^plugins\.yaml: plugins\.spamassassin\.port: .*65535/m);
      assert.match(run.stderr, /^plugins\.yaml: plugins\.spamassassin\.colour: .*/m);
      assert.doesNotMatch(run.stderr, /clamav/, 'a disabled plugin is not checked');
      assert.match(run.stderr, /2 plugin problems\n$/);

      writeFileSync(bad, 'hostname: mx.example.test\nplugins:\n  no-such-plugin: { enabled: true }\n');
      const missing = postern(['check-config', '--config', bad]);
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /no-such-plugin.*\(POSTERN_PLUGIN_NOT_FOUND\)/);
    });

    it('says when the config file is missing', () => {
      const run = postern(['domain', 'list', '--config', join(dir, 'nope.yaml')]);
      assert.equal(run.code, 1);
      assert.match(run.stderr, /^postern: cannot read config .*nope\.yaml: file not found.*\(POSTERN_CONFIG_UNREADABLE\)\n$/);
    });
  });

  describe('domains, users and aliases', () => {
    const cfg = () => ['--config', config];

    it('adds, lists and removes a domain', () => {
      ok(postern(['domain', 'add', 'Example.TEST', ...cfg()]));
      ok(postern(['domain', 'add', 'spare.test', '--catch-all', 'ann@example.test', ...cfg()]));
      const listed = JSON.parse(ok(postern(['domain', 'list', '--json', ...cfg()]))) as Array<{ name: string; catchAll: string | null }>;
      assert.deepEqual(
        listed.map((d) => [d.name, d.catchAll]),
        [
          ['example.test', null],
          ['spare.test', 'ann@example.test'],
        ],
      );
      const table = ok(postern(['domain', 'list', ...cfg()])).split('\n');
      assert.match(table[0]!, /^DOMAIN\s+USERS\s+ALIASES\s+CATCH-ALL$/);
      assert.match(table[2]!, /^spare\.test\s+0\s+0\s+ann@example\.test$/);
      ok(postern(['domain', 'catch-all', 'spare.test', '--none', ...cfg()]));
      ok(postern(['domain', 'remove', 'spare.test', ...cfg()]));
      assert.doesNotMatch(ok(postern(['domain', 'list', ...cfg()])), /spare/);
    });

    it('adds users with a password from stdin or a flag', async () => {
      ok(postern(['user', 'add', 'ann@example.test', '--name', 'Ann Lee', '--quota', '500M', ...cfg()], { input: 'stdin secret 1\nignored\n' }));
      ok(postern(['user', 'add', 'bob@example.test', '--password-stdin', ...cfg()], { input: 'stdin secret 2' }));
      ok(postern(['user', 'add', 'cy@example.test', '--password', 'flag secret 3', ...cfg()]));
      const directory = SqliteDirectory.open(join(dir, 'data'));
      try {
        assert.ok(await directory.verifyPassword('ann@example.test', 'stdin secret 1'));
        assert.ok(await directory.verifyPassword('bob@example.test', 'stdin secret 2'));
        assert.ok(await directory.verifyPassword('cy@example.test', 'flag secret 3'));
        assert.equal((await directory.getUser('ann@example.test'))?.quotaBytes, 500 * 1024 * 1024);
      } finally {
        await directory.close();
      }
    });

    it('lists and shows users', () => {
      const users = JSON.parse(ok(postern(['user', 'list', 'example.test', '--json', ...cfg()]))) as Array<{ address: string; displayName: string | null }>;
      assert.deepEqual(
        users.map((u) => [u.address, u.displayName]),
        [
          ['ann@example.test', 'Ann Lee'],
          ['bob@example.test', null],
          ['cy@example.test', null],
        ],
      );
      const table = ok(postern(['user', 'list', ...cfg()])).split('\n');
      assert.match(table[0]!, /^ADDRESS\s+NAME\s+QUOTA\s+USED$/);
      assert.match(table[1]!, /^ann@example\.test\s+Ann Lee\s+500M\s+0$/);
      assert.match(ok(postern(['user', 'show', 'ANN@example.test', ...cfg()])), /^quota:\s+500M$/m);
    });

    it('refuses a duplicate user with exit 1 and the code', () => {
      const run = postern(['user', 'add', 'ann@example.test', '--password', 'another secret', ...cfg()]);
      assert.equal(run.code, 1);
      assert.match(run.stderr, /^postern: .* \(POSTERN_USER_EXISTS\)\n$/);
    });

    it('changes a password', async () => {
      ok(postern(['user', 'passwd', 'bob@example.test', ...cfg()], { input: 'changed secret\n' }));
      const directory = SqliteDirectory.open(join(dir, 'data'));
      try {
        assert.ok(await directory.verifyPassword('bob@example.test', 'changed secret'));
      } finally {
        await directory.close();
      }
      const missing = postern(['user', 'passwd', 'zed@example.test', '--password', 'whatever123', ...cfg()]);
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /\(POSTERN_USER_NOT_FOUND\)/);
    });

    it('adds, lists and removes aliases', () => {
      ok(postern(['alias', 'add', 'team@example.test', 'ann@example.test', 'bob@example.test', 'friend@remote.test', ...cfg()]));
      const aliases = JSON.parse(ok(postern(['alias', 'list', '--json', ...cfg()])));
      assert.deepEqual(aliases, [{ source: 'team@example.test', targets: ['ann@example.test', 'bob@example.test', 'friend@remote.test'] }]);
      assert.match(ok(postern(['alias', 'list', 'example.test', ...cfg()])), /^team@example\.test\s+ann@example\.test, bob@example\.test, friend@remote\.test$/m);
      ok(postern(['alias', 'remove', 'team@example.test', 'friend@remote.test', ...cfg()]));
      assert.deepEqual(JSON.parse(ok(postern(['alias', 'list', '--json', ...cfg()])))[0].targets, ['ann@example.test', 'bob@example.test']);
      ok(postern(['alias', 'remove', 'team@example.test', ...cfg()]));
      assert.deepEqual(JSON.parse(ok(postern(['alias', 'list', '--json', ...cfg()]))), []);
      const gone = postern(['alias', 'remove', 'team@example.test', ...cfg()]);
      assert.equal(gone.code, 1);
      assert.match(gone.stderr, /\(POSTERN_ALIAS_NOT_FOUND\)/);
    });

    it('removes users, and a non-empty domain only with --force', () => {
      ok(postern(['user', 'remove', 'cy@example.test', ...cfg()]));
      const refused = postern(['domain', 'remove', 'example.test', ...cfg()]);
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /\(POSTERN_DOMAIN_NOT_EMPTY\)/);
      ok(postern(['domain', 'remove', 'example.test', '--force', ...cfg()]));
      assert.deepEqual(JSON.parse(ok(postern(['user', 'list', '--json', ...cfg()]))), []);
    });
  });

  describe('start', () => {
    /** A port that was free a moment ago (the listeners only accept 1..65535, not 0). */
    async function freePort(): Promise<number> {
      const server = createServer().listen(0, '127.0.0.1');
      await once(server, 'listening');
      const { port } = server.address() as { port: number };
      server.close();
      await once(server, 'close');
      return port;
    }

    async function waitForPort(port: number, deadline: number): Promise<void> {
      while (Date.now() < deadline) {
        const socket = createConnection(port, '127.0.0.1');
        const connected = await new Promise<boolean>((resolve) => {
          socket.once('connect', () => resolve(true)).once('error', () => resolve(false));
        });
        socket.destroy();
        if (connected) return;
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.fail(`nothing listens on ${port}`);
    }

    it('runs the server, lets admin commands work beside it, and exits 0 on SIGTERM', async () => {
      const [mx, sub, subs] = [await freePort(), await freePort(), await freePort()];
      const yaml = readFileSync(config, 'utf8')
        .replaceAll('host: 0.0.0.0', 'host: 127.0.0.1')
        .replace('port: 25\n', `port: ${mx}\n`)
        .replace('port: 587\n', `port: ${sub}\n`)
        .replace('port: 465\n', `port: ${subs}\n`)
        .replace('level: info', 'level: silent');
      const file = join(dir, 'start.yaml');
      writeFileSync(file, yaml);
      ok(postern(['check-config', '--config', file]));

      const child = spawn(process.execPath, [BIN, 'start', '--config', file], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
      const exited = once(child, 'exit');
      try {
        await waitForPort(mx, Date.now() + 20_000);
        ok(postern(['domain', 'add', 'live.test', '--config', file]));
        ok(postern(['user', 'add', 'ann@live.test', '--password', 'live secret', '--config', file]));
      } finally {
        child.kill('SIGTERM');
      }
      const [code] = await exited;
      assert.equal(code, 0, stderr);
    });
  });

  describe('usage', () => {
    it('exits 2 on wrong arguments, with the usage code', () => {
      for (const args of [['user', 'add'], ['domain', 'frobnicate'], ['user', 'list', '--bogus'], ['nonsense'], ['user', 'add', 'a@b.test', '--quota', 'lots']]) {
        const run = postern([...args, '--config', config]);
        assert.equal(run.code, 2, args.join(' '));
        assert.match(run.stderr, /^postern: .* \(POSTERN_USAGE\)\n$/);
      }
    });

    it('prints help', () => {
      assert.match(ok(postern(['--help'])), /^Usage: postern/);
      assert.match(ok(postern(['help', 'user'])), /postern user add ADDRESS/);
      assert.match(ok(postern(['alias', '--help'])), /postern alias add SOURCE TARGET/);
    });

    it('lists the configured plugins', () => {
      const listed = JSON.parse(ok(postern(['plugin', 'list', '--json', '--config', config]))) as {
        plugins: Array<{ name: string; enabled: boolean }>;
        server: unknown;
      };
      assert.equal(listed.server, null, 'no server is running for this config');
      assert.deepEqual(
        listed.plugins.map((p) => [p.name, p.enabled]),
        [
          ['access', true],
          ['rate-limit', true],
          ['spf-ptr', false],
          ['dnsbl', false],
          ['clamav', false],
          ['spamassassin', false],
          ['greylist', false],
          ['dkim', false],
        ],
      );
    });
  });
});
