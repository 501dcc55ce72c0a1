import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { configTemplate } from '../core/src/cli/config-template.js';
import { configPathFrom, loadConfig, loadDataDir, parseConfig } from '../core/src/config/load-config.js';
import { ErrorCode, isPosternError, type PosternError } from '../core/src/errors.js';

/** The PosternError `fn` throws; fails the test when it throws nothing or something else. */
function thrown(fn: () => unknown, code: string): PosternError {
  try {
    fn();
  } catch (err) {
    assert.ok(isPosternError(err), `expected a PosternError, got ${String(err)}`);
    assert.equal(err.code, code);
    return err;
  }
  assert.fail('expected an error');
}

function errorLines(err: PosternError): string[] {
  const errors = err.details?.errors;
  assert.ok(Array.isArray(errors));
  return errors as string[];
}

describe('config loader', () => {
  it('applies every default to an empty file', () => {
    const config = parseConfig('', '/etc/postern/postern.yaml');
    assert.equal(config.hostname, hostname());
    assert.equal(config.dataDir, '/etc/postern/data');
    assert.equal(config.configPath, '/etc/postern/postern.yaml');
    assert.equal(config.log.level, 'info');
    assert.deepEqual(config.tls, { key: '/etc/postern/data/tls/key.pem', cert: '/etc/postern/data/tls/cert.pem' });
    assert.equal(config.smtp.banner, 'Postern');
    assert.equal(config.smtp.maxMessageSize, 26214400);
    assert.equal(config.smtp.maxRecipients, 100);
    assert.equal(config.smtp.allowInsecureAuth, false);
    assert.equal(config.smtp.socketTimeoutMs, 300000);
    assert.deepEqual(config.smtp.limits, { connectionsPerIp: 20, maxConnections: 1000 });
    assert.deepEqual(config.smtp.listeners, [
      { name: 'mx', host: '0.0.0.0', port: 25, tls: 'starttls', auth: 'none', earlyTalkerDelayMs: 100 },
      { name: 'submission', host: '0.0.0.0', port: 587, tls: 'starttls', auth: 'required', earlyTalkerDelayMs: 0 },
      { name: 'submissions', host: '0.0.0.0', port: 465, tls: 'implicit', auth: 'required', earlyTalkerDelayMs: 0 },
    ]);
    assert.deepEqual(config.relay, { trustedNetworks: [] });
    assert.deepEqual(config.dns, { servers: [], timeoutMs: 5000 });
    assert.deepEqual(config.delivery, { folders: ['INBOX', 'Sent', 'Drafts', 'Junk', 'Trash'] });
    assert.deepEqual(config.queue, { retryIntervalSec: 300, backoff: 2, maxRetryIntervalSec: 3600, minTimeInQueueSec: 60, maxTimeInQueueSec: 432000, delayWarningSec: 14400 });
    assert.deepEqual(config.plugins, { timeoutMs: 5000, paths: [], trusted: [], entries: {} });
  });

  it('fills listener defaults and keeps what is written', () => {
    const config = parseConfig(
      `smtp:
  listeners:
    - { name: test-mx, host: 127.0.0.1, port: 2525 }
    - { name: test-sub, host: 127.0.0.1, port: 2587, auth: required, earlyTalkerDelayMs: 50 }
`,
      'p.yaml',
    );
    assert.deepEqual(config.smtp.listeners, [
      { name: 'test-mx', host: '127.0.0.1', port: 2525, tls: 'starttls', auth: 'none', earlyTalkerDelayMs: 100 },
      { name: 'test-sub', host: '127.0.0.1', port: 2587, tls: 'starttls', auth: 'required', earlyTalkerDelayMs: 50 },
    ]);
  });

  it('treats a key with no value as "use the defaults"', () => {
    const config = parseConfig('relay:\n  # trustedNetworks: []\nsmtp:\n', 'p.yaml');
    assert.deepEqual(config.relay.trustedNetworks, []);
    assert.equal(config.smtp.listeners.length, 3);
  });

  it('names the key and the line of an unknown key', () => {
    const err = thrown(() => parseConfig('hostname: mx.example.com\nsmtp:\n  banner: hi\n  maxMesageSize: 10\n', 'postern.yaml'), ErrorCode.CONFIG_INVALID);
    assert.deepEqual(errorLines(err), ['postern.yaml:4: smtp.maxMesageSize: unknown key']);
  });

  it('names the key and the line of a wrong enum value', () => {
    const text = `smtp:
  listeners:
    - name: mx
      port: 2525
    - name: sub
      port: 2587
      tls: startls
`;
    const err = thrown(() => parseConfig(text, 'postern.yaml'), ErrorCode.CONFIG_INVALID);
    assert.deepEqual(errorLines(err), ['postern.yaml:7: smtp.listeners[1].tls: must be one of none, starttls, implicit']);
  });

  it('reports every problem at once, in line order', () => {
    const text = `hostname: 5
smtp:
  listeners:
    - { name: a, port: 70000 }
    - { name: a, port: 26 }
relay:
  trustedNetworks: [10.0.0.0/33]
dns:
  servers: ["[::1]:53", "x:0"]
bogus: true
`;
    const lines = errorLines(thrown(() => parseConfig(text, 'c.yaml'), ErrorCode.CONFIG_INVALID));
    assert.deepEqual(lines, [
      'c.yaml:1: hostname: must be a string',
      'c.yaml:4: smtp.listeners[0].port: must be <= 65535',
      'c.yaml:5: smtp.listeners[1].name: duplicate listener name "a" (also listeners[0])',
      'c.yaml:7: relay.trustedNetworks[0]: must be an IP address or CIDR range (10.0.0.0/8, 2001:db8::/32)',
      'c.yaml:9: dns.servers[1]: must be host, host:port or [IPv6]:port',
      'c.yaml:10: bogus: unknown key',
    ]);
  });

  it('names the line and column of a YAML syntax error', () => {
    const err = thrown(() => parseConfig('hostname: a\nsmtp:\n  banner: [unclosed\n  maxRecipients: 5\n', 'postern.yaml'), ErrorCode.CONFIG_UNREADABLE);
    const [line] = errorLines(err);
    assert.match(line!, /^postern\.yaml:\d+:\d+: \S/);
    assert.ok(Number(line!.split(':')[1]) >= 3, line);
  });

  it('refuses duplicate keys with their line', () => {
    const err = thrown(() => parseConfig('hostname: a\nhostname: b\n', 'postern.yaml'), ErrorCode.CONFIG_UNREADABLE);
    assert.match(errorLines(err)[0]!, /^postern\.yaml:2:1: .*unique/i);
  });

  it('resolves paths relative to the config file', () => {
    const config = parseConfig('dataDir: ../var/postern\ntls: { key: tls/k.pem, cert: /abs/c.pem }\nplugins: { paths: [./local-plugins] }\n', '/srv/mail/conf/postern.yaml');
    assert.equal(config.dataDir, '/srv/mail/var/postern');
    assert.equal(config.tls.key, '/srv/mail/conf/tls/k.pem');
    assert.equal(config.tls.cert, '/abs/c.pem');
    assert.deepEqual(config.plugins.paths, ['/srv/mail/conf/local-plugins']);
  });

  it('moves plugin sections into entries, in file order, and checks their host keys', () => {
    const config = parseConfig(
      'plugins:\n  timeoutMs: 2000\n  rate-limit: { enabled: true, limit: 5 }\n  access: { enabled: false, failOpen: true, timeoutMs: 100, deny: { senders: [] } }\n',
      'p.yaml',
    );
    assert.equal(config.plugins.timeoutMs, 2000);
    assert.deepEqual(Object.keys(config.plugins.entries), ['rate-limit', 'access']);
    assert.deepEqual(config.plugins.entries.access, { enabled: false, failOpen: true, timeoutMs: 100, deny: { senders: [] } });

    const err = thrown(() => parseConfig('plugins:\n  access:\n    allow: {}\n  greylist: { enabled: yes }\n', 'p.yaml'), ErrorCode.CONFIG_INVALID);
    assert.deepEqual(errorLines(err), ['p.yaml:2: plugins.access.enabled: is required', 'p.yaml:4: plugins.greylist.enabled: must be true or false']);
  });

  it('normalises trusted networks to CIDR and accepts IPv6', () => {
    const config = parseConfig('relay:\n  trustedNetworks: [127.0.0.1, "::1", 10.0.0.0/8, "2001:db8::/32"]\n', 'p.yaml');
    assert.deepEqual(config.relay.trustedNetworks, ['127.0.0.1/32', '::1/128', '10.0.0.0/8', '2001:db8::/32']);
  });

  it('accepts the config that postern init writes', () => {
    const config = parseConfig(configTemplate('mail.example.com'), '/x/postern.yaml');
    assert.equal(config.hostname, 'mail.example.com');
    assert.deepEqual(config.smtp.listeners.map((l) => l.port), [25, 587, 465]);
    assert.deepEqual(config.plugins.entries['rate-limit'], { enabled: true, limit: 120, windowSec: 60, key: 'ip' });
    assert.equal(config.plugins.entries.access?.enabled, true);
  });

  it('reads files, and says when one is missing', () => {
    const dir = mkdtempSync(join(tmpdir(), 'postern-config-'));
    try {
      const file = join(dir, 'postern.yaml');
      writeFileSync(file, 'dataDir: ./state\nsmtp: { bogus: 1 }\n');
      assert.equal(loadDataDir(file), join(dir, 'state'));
      thrown(() => loadConfig(file), ErrorCode.CONFIG_INVALID);
      thrown(() => loadConfig(join(dir, 'missing.yaml')), ErrorCode.CONFIG_UNREADABLE);
      thrown(() => loadDataDir(join(dir, 'missing.yaml')), ErrorCode.CONFIG_UNREADABLE);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('takes the config path from the flag, then POSTERN_CONFIG, then ./postern.yaml', () => {
    assert.equal(configPathFrom('a.yaml', { POSTERN_CONFIG: 'b.yaml' }), 'a.yaml');
    assert.equal(configPathFrom(undefined, { POSTERN_CONFIG: 'b.yaml' }), 'b.yaml');
    assert.equal(configPathFrom(undefined, {}), 'postern.yaml');
  });
});
