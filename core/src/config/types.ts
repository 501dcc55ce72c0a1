/**
 * The shape of postern.yaml after validation and defaults. The JSON Schema in schema.ts is the
 * source of truth for what is allowed; docs/reference/config.md describes every key.
 */

export type TlsMode = 'none' | 'starttls' | 'implicit';
export type AuthMode = 'none' | 'optional' | 'required';

export interface SmtpListenerConfig {
  /** Name used in logs and shown to plugins (session.listener). */
  name: string;
  host: string;
  port: number;
  tls: TlsMode;
  /** none: AUTH not offered (MX); optional: offered; required: MAIL FROM needs AUTH (submission). */
  auth: AuthMode;
  /**
   * Milliseconds to wait before the greeting; a client that talks earlier is refused.
   * Default 100 for listeners with auth `none`, 0 otherwise.
   */
  earlyTalkerDelayMs: number;
}

export interface SmtpConfig {
  /** Text after the host name in the 220 greeting. */
  banner: string;
  /** Bytes; SIZE is advertised and larger messages get 552 5.3.4. */
  maxMessageSize: number;
  /** Recipients per message; more get 452 4.5.3. */
  maxRecipients: number;
  /** Allow AUTH on connections without TLS (only for tests and trusted LANs). */
  allowInsecureAuth: boolean;
  /** Idle time before a connection is closed (ms). */
  socketTimeoutMs: number;
  limits: {
    /** Concurrent connections from one IP; more get 421 4.7.0. 0 = unlimited. */
    connectionsPerIp: number;
    /** All connections at once; more get 421. 0 = unlimited. */
    maxConnections: number;
  };
  listeners: SmtpListenerConfig[];
}

export interface QueueConfig {
  /** Wait before the first retry, seconds. */
  retryIntervalSec: number;
  /** Each later wait is the previous one times this. */
  backoff: number;
  /** Longest wait between attempts, seconds. */
  maxRetryIntervalSec: number;
  /** Shortest wait between attempts (also for a plugin's retry time), seconds. */
  minTimeInQueueSec: number;
  /** After this long in the queue a message bounces, seconds. */
  maxTimeInQueueSec: number;
  /** Send one delay warning after this long; 0 = never. */
  delayWarningSec: number;
}

export interface SmarthostConfig {
  host: string;
  port: number;
  tls: 'starttls' | 'implicit' | 'none';
  verifyCertificate: boolean;
  auth?: { user: string; pass: string };
}

export interface OutboundConfig {
  /** Port of remote MX hosts (25). */
  port: number;
  localAddress: string;
  connectTimeoutMs: number;
  socketTimeoutMs: number;
  maxConnections: number;
  maxConnectionsPerDestination: number;
  tls: 'opportunistic' | 'required' | 'none';
  /** The default relay for all remote mail. */
  smarthost?: SmarthostConfig;
  /** Per-domain relays; they win over `smarthost`. */
  routes: Array<SmarthostConfig & { domain: string }>;
}

export interface MailboxListenerConfig {
  name: string;
  host: string;
  port: number;
  tls: TlsMode;
}

/** The `imap` and `pop3` sections. */
export interface MailboxAccessConfig {
  /** Allow a login without TLS. */
  allowInsecureAuth: boolean;
  /** Delay before answering a failed login, ms. */
  authFailureDelayMs: number;
  /** Close a connection idle this long, ms. */
  idleTimeoutMs: number;
  maxLineBytes: number;
  maxLiteralBytes: number;
  limits: { connectionsPerIp: number; maxConnections: number; authFailuresPerIp: number };
  listeners: MailboxListenerConfig[];
}

export interface PosternConfig {
  /** The server's host name (greeting, Received, HELO when sending). */
  hostname: string;
  /** Where the database, spool, mailboxes and TLS files live; relative to the config file in YAML, absolute after loading. */
  dataDir: string;
  log: { level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent' };
  tls: {
    /**
     * PEM key and certificate files. In YAML: relative to the config file, empty for
     * dataDir/tls/{key,cert}.pem. After loading: always absolute (the loader fills in the default).
     */
    key: string;
    cert: string;
  };
  smtp: SmtpConfig;
  relay: {
    /** CIDR ranges whose clients may relay without AUTH. Default: none. A bare address in YAML is loaded as /32 or /128. */
    trustedNetworks: string[];
  };
  dns: {
    /** Resolvers ("127.0.0.1:5353"); empty = the system's. */
    servers: string[];
    timeoutMs: number;
  };
  delivery: {
    /** Folders created with every mailbox. INBOX is the Maildir root. */
    folders: string[];
  };
  /** The retry schedule of deferred messages (docs/reference/queue.md). */
  queue: QueueConfig;
  /** How remote mail leaves: MX lookup or smarthost, TLS, connection limits. */
  outbound: OutboundConfig;
  /** The IMAP server (docs/reference/imap.md). */
  imap: MailboxAccessConfig;
  /** The POP3 server (docs/reference/pop3.md). */
  pop3: MailboxAccessConfig;
  /** The admin HTTP API (fastify): off unless enabled; every request needs the bearer token. */
  admin: {
    enabled: boolean;
    host: string;
    port: number;
    /** The bearer token; empty = $POSTERN_ADMIN_TOKEN. The API refuses to start without one. */
    token: string;
  };
  plugins: PluginsConfig;
  /** The absolute path of the file this came from (set by the loader). */
  configPath: string;
}

export interface PluginConfig {
  enabled: boolean;
  /** On a throw/timeout: true = ignore the tap (fail open); false = 451 4.3.0 (default). */
  failOpen?: boolean;
  /** Default timeout for this plugin's taps, ms. */
  timeoutMs?: number;
  /** Run sandboxed (true) or in-process (false), whatever the source; default: by source and plugins.trusted. */
  sandbox?: boolean;
  /** Capabilities granted to the plugin when it runs sandboxed (intersected with its manifest's permissions). */
  grants?: { dns?: boolean; kv?: boolean; log?: boolean; net?: string[] };
  [option: string]: unknown;
}

/**
 * In YAML, `plugins` holds `timeoutMs`, `paths` and one section per plugin name; the loader moves
 * the per-plugin sections into `entries` so the types stay honest.
 */
export interface PluginsConfig {
  /** Default tap timeout (ms) for every plugin. */
  timeoutMs: number;
  /** Extra folders searched for plugins, relative to the config file (made absolute by the loader). */
  paths: string[];
  /** npm plugins, bundles or package names the admin trusts to run in-process (default: sandboxed). */
  trusted: string[];
  /** Per-plugin sections, keyed by plugin name, in file order. */
  entries: Record<string, PluginConfig>;
}
