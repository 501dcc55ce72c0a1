import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { PosternConfig } from './config/types.js';
import { registerLocalDelivery } from './delivery/local-delivery.js';
import { MailboxStore } from './delivery/mailbox-store.js';
import { CachedDirectory } from './directory/cached-directory.js';
import { SqliteDirectory } from './directory/sqlite-directory.js';
import { createLogger } from './logging.js';
import { Pipeline } from './pipeline/pipeline.js';
import { PluginHost, type GenerationBuilder, type ReloadResult } from './plugin-host/plugin-host.js';
import { startAdmin, type RunningAdmin } from './admin/admin-server.js';
import { pruneCompileCache } from './plugin-host/compile.js';
import { compileCacheDir, loadPlugins } from './plugin-host/plugin-loader.js';
import { ReloadWatcher } from './plugin-host/reload-watcher.js';
import { SqliteKvStore } from './plugin-host/sqlite-kv-store.js';
import { loadConfig } from './config/load-config.js';
import { runtimeFiles } from './runtime-files.js';
import type { SmtpContext } from './smtp/smtp-context.js';
import { startSmtpListener, type RunningListener, type TlsMaterial } from './smtp/smtp-listener.js';
import { assertCompatible } from './smtp/smtp-server-adapter.js';
import { Spool } from './spool/spool.js';
import { openDatabase } from './store/database.js';
import { DirSync } from './util/dir-sync.js';
import { NetworkList } from './util/network-list.js';
import { createResolver } from './util/dns-resolver.js';
import { ConnectionLimits } from './outbound/connection-limits.js';
import { SessionCache } from './outbound/session-cache.js';
import { registerRemoteDelivery } from './outbound/remote-delivery.js';
import { QueueRunner } from './queue/queue-runner.js';
import { SqliteQueueStore } from './queue/sqlite-queue-store.js';
import { spoolDirOf } from './queue/queue-admin.js';
import { startImapListener } from './imap/imap-listener.js';
import { createMailStore } from './mailstore/index.js';
import type { MailStore } from './mailstore/mail-store.js';
import { startPop3Listener } from './pop3/pop3-listener.js';


export interface RunningServer {
  listeners: RunningListener[];
  plugins: PluginHost;
  /**
   * Re-read the config file and build a new plugin generation from it (SIGHUP, `postern plugin
   * reload`). Listener, relay and limit settings are read at start only; a change to them needs a
   * restart.
   */
  reload(): Promise<ReloadResult>;
  log: Logger;
  /** Stop accepting, finish deliveries in flight, close the database. Safe to call twice. */
  close(): Promise<void>;
}

/**
 * The key and certificate (config tls.key/tls.cert; the loader defaults them to the pair `postern
 * init` writes in dataDir/tls). Missing files are an error only for a listener that needs TLS.
 */
function loadTls(config: PosternConfig): TlsMaterial | undefined {
  const { key, cert } = config.tls;
  if (!existsSync(key) || !existsSync(cert)) return undefined;
  return { key: readFileSync(key), cert: readFileSync(cert) };
}

/**
 * Start Postern: directory, plugins, spool recovery, then the listeners. Messages left in the spool
 * by a previous run (a crash, a kill -9) are delivered before the first listener opens.
 */
export async function startServer(config: PosternConfig, log: Logger = createLogger(config)): Promise<RunningServer> {
  assertCompatible();
  const db = openDatabase(config.dataDir);
  const stored = new SqliteDirectory(db);
  const directory = new CachedDirectory(stored, () => stored.changeToken());
  const dirSync = new DirSync();
  const mailboxes = new MailboxStore(config.dataDir, config.delivery.folders);

  const kv = new SqliteKvStore(db);
  const resolver = createResolver(config.dns);
  const limits = new ConnectionLimits(config.outbound.maxConnections, config.outbound.maxConnectionsPerDestination);
  const sessions = new SessionCache({ maxIdlePerTarget: config.outbound.maxConnectionsPerDestination });
  // The queue needs the plugin host and the generations need the queue: bound once both exist.
  let queue: QueueRunner | undefined;
  // Made only when an IMAP or POP3 listener is configured; local delivery tells it of new mail.
  let mailStore: MailStore | undefined;
  const build: GenerationBuilder = async (cfg) => {
    const pipeline = new Pipeline(log);
    registerLocalDelivery(pipeline, { directory, mailboxes, hostname: config.hostname, log, onDelivered: (mailbox, folder) => mailStore?.notifyDelivered(mailbox, folder) });
    registerRemoteDelivery(pipeline, { config, resolver, limits, sessions, log, beforeSend: async (delivery, recipients) => queue?.beforeSend(delivery, recipients) });
    try {
      return { pipeline, plugins: await loadPlugins(pipeline, cfg, log, { kv }) };
    } catch (err) {
      await pipeline.shutdown();
      throw err;
    }
  };
  let plugins: PluginHost;
  try {
    plugins = await PluginHost.start(config, build, log);
  } catch (err) {
    db.close();
    throw err;
  }

  const spool = new Spool(spoolDirOf(config.dataDir), dirSync, log);
  await spool.init();
  const queueStore = new SqliteQueueStore(db);
  const deliveries = new QueueRunner({ plugins, spool, store: queueStore, schedule: config.queue, hostname: config.hostname, log });
  queue = deliveries;
  const recovered = await spool.recover();
  if (recovered.length > 0) log.info({ count: recovered.length }, 'recovering spooled messages');
  await deliveries.recover(recovered);
  deliveries.start();
  spool.start();

  const ctx: SmtpContext = {
    config,
    directory,
    log,
    plugins,
    spool,
    deliveries,
    trustedNetworks: new NetworkList(config.relay.trustedNetworks),
    connectionsByIp: new Map(),
  };
  const tls = loadTls(config);
  const listeners: RunningListener[] = [];
  let admin: RunningAdmin | undefined;
  try {
    for (const listener of config.smtp.listeners) listeners.push(await startSmtpListener(ctx, listener, tls));
    if (config.imap.listeners.length > 0 || config.pop3.listeners.length > 0) {
      mailStore = createMailStore({ db, dataDir: config.dataDir, folders: config.delivery.folders, directory });
      const mailCtx = { config, directory, store: mailStore, plugins, log };
      for (const listener of config.imap.listeners) listeners.push(await startImapListener(mailCtx, listener, tls));
      for (const listener of config.pop3.listeners) listeners.push(await startPop3Listener(mailCtx, listener, tls));
    }
    if (config.admin.enabled) admin = await startAdmin({ config, log, plugins, reload: () => server.reload(), queue: { store: queueStore, spoolDir: spool.dir } });
  } catch (err) {
    await Promise.all(listeners.map((l) => l.close()));
    await deliveries.close();
    await plugins.close();
    db.close();
    throw err;
  }
  log.info({ listeners: listeners.map((l) => `${l.name}@${l.address.address}:${l.address.port}`), plugins: plugins.current().plugins.map((p) => p.name) }, 'postern started');
  const { pid: pidFile, pluginStatus: statusFile } = runtimeFiles(config.dataDir);
  const writeStatus = () => writeFileSync(statusFile, `${JSON.stringify(plugins.status(), null, 2)}\n`);
  // Edits to the config file or to a plugin's source build a new generation by themselves.
  const reload = () => void server.reload();
  const watcher = new ReloadWatcher(config.configPath, reload);
  const watchSources = () => watcher.update(plugins.current().plugins.filter((p) => p.source === 'first-party' || p.source === 'path').map((p) => p.dir));
  // Builds of edited plugins would pile up in the cache: keep only what the current generation
  // runs (an older generation still serving has its code loaded already, not read from the file).
  const pruneBuilds = () =>
    void pruneCompileCache(compileCacheDir(config), plugins.current().plugins.map((p) => p.build)).catch((err: unknown) =>
      log.warn({ err }, 'cannot prune the plugin compile cache'),
    );
  plugins.onChange = () => {
    writeStatus();
    watchSources();
    pruneBuilds();
  };
  writeStatus();
  watchSources();
  pruneBuilds();
  writeFileSync(pidFile, `${process.pid}\n`);

  let closing: Promise<void> | undefined;
  const server: RunningServer = {
    listeners,
    plugins,
    log,
    reload: async () => {
      let next: PosternConfig;
      try {
        next = loadConfig(config.configPath);
      } catch (err) {
        const e = err as { code?: string; message: string };
        log.error({ err, code: e.code }, 'reload: the config file is invalid; the current plugin generation keeps serving');
        plugins.lastError = { at: Date.now(), message: e.message, ...(e.code ? { code: e.code } : {}) };
        writeStatus();
        return { ok: false, generation: plugins.current().id, error: { message: e.message, ...(e.code ? { code: e.code } : {}) } };
      }
      return plugins.reload(next);
    },
    close: () =>
      (closing ??= (async () => {
        log.info('postern stopping');
        watcher.close();
        await admin?.close();
        await Promise.all(listeners.map((l) => l.close()));
        await deliveries.close();
        sessions.closeAll();
        await spool.close();
        await plugins.close();
        rmSync(pidFile, { force: true });
        rmSync(statusFile, { force: true });
        await directory.close();
        db.close();
        log.info('postern stopped');
      })()),
  };
  return server;
}
