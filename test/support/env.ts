import { createHash } from 'node:crypto';
import { rmSync } from 'node:fs';
import { cp, mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { posternOk } from './cli.js';
import { messagesOf, readMaildir, type MailFile } from './maildir.js';
import { freePorts } from './ports.js';
import { ServerProcess } from './server.js';
import { RawSmtp } from './smtp-raw.js';
import { writeTestCertificate } from './tls.js';
import { tempDir, type Cleanup } from './tmp.js';

export const PASSWORD = 'correct horse battery';

export const ANN = 'ann@example.test';
export const BOB = 'bob@example.test';

/**
 * The directory most tests use, so that one CLI-built template serves a whole test file:
 * example.test with users ann and bob and the alias team → ann, bob; catchall.test whose
 * catch-all is ann. example.test has no catch-all (unknown users there get 550 5.1.1).
 */
export const WORLD = {
  domains: ['example.test', { name: 'catchall.test', catchAll: ANN }],
  users: [ANN, BOB],
  aliases: [{ source: 'team@example.test', targets: [ANN, BOB] }],
} satisfies Pick<EnvOptions, 'domains' | 'users' | 'aliases'>;

export interface ListenerSpec {
  name: string;
  tls: 'none' | 'starttls' | 'implicit';
  auth: 'none' | 'optional' | 'required';
  /** Default 0 here (no greeting delay in tests); null leaves it out of the config (the server's default applies). */
  earlyTalkerDelayMs?: number | null;
}

/** MX, submission (587-style) and submissions (465-style), all without a greeting delay. */
export const DEFAULT_LISTENERS: ListenerSpec[] = [
  { name: 'mx', tls: 'starttls', auth: 'none', earlyTalkerDelayMs: 0 },
  { name: 'submission', tls: 'starttls', auth: 'required', earlyTalkerDelayMs: 0 },
  { name: 'submissions', tls: 'implicit', auth: 'required', earlyTalkerDelayMs: 0 },
];

export interface EnvOptions {
  listeners?: ListenerSpec[];
  /** Merged into the `smtp` section (maxMessageSize, maxRecipients, limits...). */
  smtp?: Record<string, unknown>;
  trustedNetworks?: string[];
  /** Plugin sections (`{ 'rate-limit': { enabled: true, limit: 3 } }`). Every first-party plugin is off unless named. */
  plugins?: Record<string, Record<string, unknown>>;
  /** Test-only plugins: name → source of index.js, written to <dir>/test-plugins/<name>/. */
  testPlugins?: Record<string, string>;
  domains?: Array<string | { name: string; catchAll?: string }>;
  users?: Array<string | { address: string; password?: string; quota?: string }>;
  aliases?: Array<{ source: string; targets: string[] }>;
  /**
   * IMAP and POP3 listeners on free loopback ports (their ports join `env.ports` by name). None by
   * default: a test that reads mail asks for them, e.g.
   * `{ imap: [{ name: 'imap', tls: 'starttls' }], pop3: [{ name: 'pop3s', tls: 'implicit' }] }`.
   * Other `imap`/`pop3` settings go in `extra.imap` / `extra.pop3` (merged).
   */
  mailListeners?: { imap?: Array<{ name: string; tls: 'none' | 'starttls' | 'implicit' }>; pop3?: Array<{ name: string; tls: 'none' | 'starttls' | 'implicit' }> };
  /** Extra top-level config keys (e.g. delivery). */
  extra?: Record<string, unknown>;
  /** Start the server (default true). */
  start?: boolean;
}

/** One Postern under test: its folder, config, data and the running process. */
export interface Env {
  dir: string;
  configPath: string;
  dataDir: string;
  config: Record<string, unknown>;
  /** Listener name → port. */
  ports: Record<string, number>;
  server: ServerProcess;
  /** Start (again) on the same config and data, e.g. after a kill. */
  start(): Promise<ServerProcess>;
  mailbox(address: string, folder?: string): Promise<MailFile[]>;
  maildir: (address: string, folder?: string) => ReturnType<typeof readMaildir>;
  /**
   * Stop the server gracefully (SIGTERM), start it again on the same data, and return how many
   * messages the new process recovered from its spool: 0 means the spool held nothing undelivered.
   * This looks at behaviour, not at the spool's file format.
   */
  restartCountRecovered(): Promise<number>;
  /** Wait until `server` has logged a delivery line for each message it recovered at start-up. */
  recoveryDone(server?: ServerProcess, timeoutMs?: number): Promise<number>;
  /** A raw SMTP client on listener `name` (greeting read), closed before the server stops. */
  connect(name: string, options?: { tls?: boolean }): Promise<RawSmtp>;
}

/** How many messages a started server recovered from its spool ("recovering spooled messages"; 0 when not logged). */
export function recoveredCount(server: ServerProcess): number {
  const line = server.find((l) => l.msg === 'recovering spooled messages')[0];
  return typeof line?.count === 'number' ? line.count : 0;
}

/** Write a plugin package folder: package.json + index.js. */
export async function writeTestPlugin(root: string, name: string, source: string): Promise<string> {
  const dir = join(root, name);
  await mkdir(dir, { recursive: true });
  // A manifest that accepts any options: the test plugin's own validate() judges them.
  const manifest = { name, engine: '*', hooks: [], options: { type: 'object' } };
  await writeFile(join(dir, 'package.json'), JSON.stringify({ name, version: '1.0.0', type: 'module', main: 'index.js', postern: manifest }, null, 2));
  await writeFile(join(dir, 'index.js'), source);
  return dir;
}

/** Directory contents already built by the CLI in this process: spec → a data dir to copy. */
const templates = new Map<string, Promise<string>>();
let templateRoot: string | undefined;

/**
 * Fill `dataDir` with the domains, users and aliases of `options`, through the real CLI
 * (`postern domain add`, `user add`, `alias add`). Each CLI run costs a Node start-up (and user add
 * a password hash), so the result is built once per test process for each distinct spec and then
 * copied.
 */
async function seedDirectory(dataDir: string, options: EnvOptions): Promise<void> {
  const spec = { domains: options.domains ?? [], users: options.users ?? [], aliases: options.aliases ?? [] };
  if (spec.domains.length + spec.users.length + spec.aliases.length === 0) return;
  const key = createHash('sha256').update(JSON.stringify(spec)).digest('hex').slice(0, 16);
  let template = templates.get(key);
  if (!template) {
    template = (async () => {
      if (!templateRoot) {
        templateRoot = await mkdtemp(join(tmpdir(), 'postern-template-'));
        const root = templateRoot;
        process.once('exit', () => rmSync(root, { recursive: true, force: true }));
      }
      const dir = join(templateRoot, key);
      await mkdir(dir, { recursive: true });
      const configPath = join(dir, 'postern.yaml');
      await writeFile(configPath, stringify({ hostname: 'mx.example.test', dataDir: './data' }));
      const cli = (args: string[]) => posternOk(args, { config: configPath });
      for (const d of spec.domains) {
        const s = typeof d === 'string' ? { name: d } : d;
        await cli(['domain', 'add', s.name, ...(s.catchAll ? ['--catch-all', s.catchAll] : [])]);
      }
      for (const u of spec.users) {
        const s = typeof u === 'string' ? { address: u } : u;
        await cli(['user', 'add', s.address, '--password', s.password ?? PASSWORD, ...(s.quota ? ['--quota', s.quota] : [])]);
      }
      for (const a of spec.aliases) await cli(['alias', 'add', a.source, ...a.targets]);
      return join(dir, 'data');
    })();
    templates.set(key, template);
  }
  await cp(await template, dataDir, { recursive: true });
}

/**
 * A temp dir with a TLS pair, a config on free loopback ports, the directory entries, and (unless
 * `start: false`) a running server. After the test every server it started is killed and the
 * folder removed.
 */
export async function createEnv(t: Cleanup, options: EnvOptions = {}): Promise<Env> {
  const clients = new Set<RawSmtp>();
  const servers: ServerProcess[] = [];
  // Registered before the temp dir's removal because after-hooks run in registration order:
  // close the clients, SIGKILL every server process this env started, then remove the folder.
  // Not SIGTERM: a graceful stop may wait seconds for a file-system sync (the spool's
  // checkpoint) on a busy disk, and the data is thrown away anyway; restartCountRecovered()
  // is where a graceful stop is exercised.
  t.after(async () => {
    for (const client of clients) client.close();
    await Promise.all(servers.map((s) => s.kill()));
  });
  const dir = await tempDir(t);
  const listeners = options.listeners ?? DEFAULT_LISTENERS;
  const imapListeners = options.mailListeners?.imap ?? [];
  const pop3Listeners = options.mailListeners?.pop3 ?? [];
  const named = [...listeners, ...imapListeners, ...pop3Listeners];
  const portList = await freePorts(named.length + 1);
  const ports = Object.fromEntries(named.map((l, i) => [l.name, portList[i]!]));
  // Tests never send mail to the world: unless a test sets `outbound`, remote mail goes to a relay
  // on a loopback port nobody listens on, so it is deferred (connection refused) at once.
  const nowhere = portList[named.length]!;
  await writeTestCertificate(join(dir, 'tls'));

  const testPlugins = options.testPlugins ?? {};
  for (const [name, source] of Object.entries(testPlugins)) await writeTestPlugin(join(dir, 'test-plugins'), name, source);

  const config: Record<string, unknown> = {
    hostname: 'mx.example.test',
    dataDir: './data',
    log: { level: 'info' },
    tls: { key: './tls/key.pem', cert: './tls/cert.pem' },
    relay: { trustedNetworks: options.trustedNetworks ?? [] },
    smtp: {
      maxMessageSize: 1048576,
      maxRecipients: 5,
      allowInsecureAuth: false,
      ...options.smtp,
      listeners: listeners.map(({ earlyTalkerDelayMs, ...l }) => ({
        host: '127.0.0.1',
        port: ports[l.name],
        ...l,
        ...(earlyTalkerDelayMs === null ? {} : { earlyTalkerDelayMs: earlyTalkerDelayMs ?? 0 }),
      })),
    },
    plugins: {
      ...(Object.keys(testPlugins).length > 0 ? { paths: ['./test-plugins'] } : {}),
      access: { enabled: false },
      'rate-limit': { enabled: false },
      ...options.plugins,
    },
    outbound: { smarthost: { host: '127.0.0.1', port: nowhere, tls: 'none' }, connectTimeoutMs: 2000 },
    ...options.extra,
    imap: { ...(options.extra?.imap as object | undefined), listeners: imapListeners.map((l) => ({ host: '127.0.0.1', port: ports[l.name], ...l })) },
    pop3: { ...(options.extra?.pop3 as object | undefined), listeners: pop3Listeners.map((l) => ({ host: '127.0.0.1', port: ports[l.name], ...l })) },
  };
  const configPath = join(dir, 'postern.yaml');
  await writeFile(configPath, stringify(config));
  const dataDir = join(dir, 'data');

  await seedDirectory(dataDir, options);

  const env: Env = {
    dir,
    configPath,
    dataDir,
    config,
    ports,
    server: undefined as unknown as ServerProcess,
    async start() {
      const server = new ServerProcess(configPath);
      servers.push(server);
      env.server = server;
      await server.ready();
      for (const l of listeners) {
        if (env.server.ports[l.name] !== ports[l.name]) throw new Error(`listener ${l.name} is on ${env.server.ports[l.name]}, expected ${ports[l.name]}`);
      }
      return env.server;
    },
    mailbox: (address, folder) => messagesOf(dataDir, address, folder),
    maildir: (address, folder) => readMaildir(dataDir, address, folder),
    async restartCountRecovered() {
      // A graceful stop may wait for a file-system sync (the spool's checkpoint), which takes
      // seconds on a busy disk: allow it time before calling it a hang.
      const status = await env.server.stop(30_000);
      if (status.code !== 0) throw new Error(`the server did not stop cleanly on SIGTERM (${status.code ?? status.signal})\n${env.server.stderr}`);
      const server = await env.start();
      return recoveredCount(server);
    },
    async recoveryDone(server = env.server, timeoutMs = 10_000) {
      const count = recoveredCount(server);
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const ids = new Set(server.find((l) => l.msg === 'delivery').map((l) => l.queueId));
        if (ids.size >= count) return count;
        if (Date.now() > deadline) throw new Error(`recovered ${count} messages but only ${ids.size} were delivered within ${timeoutMs} ms\n${server.tail()}`);
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    },
    async connect(name, options = {}) {
      const port = ports[name];
      if (port === undefined) throw new Error(`no listener ${name}`);
      const { client, greeting } = await RawSmtp.connect(port, options);
      clients.add(client);
      if (greeting.code !== 220) throw new Error(`greeting on ${name}: ${greeting.raw}`);
      return client;
    },
  };
  if (options.start !== false) await env.start();
  return env;
}
