/**
 * The JSON Schema of postern.yaml: what is allowed and every default. load-config.ts validates the
 * parsed YAML against it (ajv, `useDefaults`), then applies the few defaults a schema cannot
 * express (see applyDerivedDefaults in load-config.ts). docs/reference/config.md describes each key.
 *
 * `x-message` on a schema is the error text shown when its `pattern` or `format` fails, so the
 * admin reads "must be a CIDR range" rather than a regular expression.
 */
import { MANIFEST_SCHEMA } from '@postern/sdk';
import { hostname } from 'node:os';
import type { SchemaObject } from 'ajv';

/** The listeners of a default install: MX on 25, submission with STARTTLS on 587 and implicit TLS on 465. */
export const DEFAULT_LISTENERS = [
  { name: 'mx', host: '0.0.0.0', port: 25, tls: 'starttls', auth: 'none' },
  { name: 'submission', host: '0.0.0.0', port: 587, tls: 'starttls', auth: 'required' },
  { name: 'submissions', host: '0.0.0.0', port: 465, tls: 'implicit', auth: 'required' },
] as const;

export const DEFAULT_FOLDERS = ['INBOX', 'Sent', 'Drafts', 'Junk', 'Trash'] as const;

/** Listener names appear in logs and in `session.listener`; keep them plain words. */
const NAME = { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]*$', 'x-message': 'must be a name of letters, digits, _ . -' };
const PORT = { type: 'integer', minimum: 1, maximum: 65535 };
const MS = { type: 'integer', minimum: 0 };

const listener = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'port'],
  properties: {
    name: NAME,
    host: { type: 'string', minLength: 1, default: '0.0.0.0' },
    port: PORT,
    tls: { enum: ['none', 'starttls', 'implicit'], default: 'starttls' },
    auth: { enum: ['none', 'optional', 'required'], default: 'none' },
    // No default here: it depends on `auth` and is filled in after validation.
    earlyTalkerDelayMs: MS,
  },
};

/** A relay that takes remote mail instead of the recipients' MX hosts. */
const smarthost = {
  type: 'object',
  additionalProperties: false,
  required: ['host'],
  properties: {
    host: { type: 'string', minLength: 1 },
    port: { ...PORT, default: 587 },
    // starttls: upgrade and refuse to go on without it; implicit: TLS from the first byte; none: plain.
    tls: { enum: ['starttls', 'implicit', 'none'], default: 'starttls' },
    // Check the relay's certificate (on by default: credentials go to it).
    verifyCertificate: { type: 'boolean', default: true },
    auth: {
      type: 'object',
      additionalProperties: false,
      required: ['user', 'pass'],
      properties: { user: { type: 'string', minLength: 1 }, pass: { type: 'string', minLength: 1 } },
    },
  },
} as const;

/** An IMAP or POP3 listener: like SMTP's, without AUTH modes (login is the point) or greeting delay. */
const mailboxListener = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'port'],
  properties: {
    name: NAME,
    host: { type: 'string', minLength: 1, default: '0.0.0.0' },
    port: PORT,
    tls: { enum: ['none', 'starttls', 'implicit'], default: 'starttls' },
  },
};

/** The `imap` and `pop3` sections share their shape. */
function mailboxAccess() {
  return {
    type: 'object',
    additionalProperties: false,
    default: {},
    properties: {
      // LOGIN/AUTHENTICATE/USER/PASS over a connection without TLS (never, unless you must).
      allowInsecureAuth: { type: 'boolean', default: false },
      // Wait this long before answering a failed login.
      authFailureDelayMs: { type: 'integer', minimum: 0, default: 1000 },
      // A connection idle this long is closed (IMAP: RFC 3501 asks for at least 30 minutes).
      idleTimeoutMs: { type: 'integer', minimum: 1000, default: 1_800_000 },
      // Longest command line, and longest literal (APPEND: the largest message a client may store).
      maxLineBytes: { type: 'integer', minimum: 1024, default: 65536 },
      maxLiteralBytes: { type: 'integer', minimum: 1024, default: 52_428_800 },
      limits: {
        type: 'object',
        additionalProperties: false,
        default: {},
        properties: {
          connectionsPerIp: { type: 'integer', minimum: 0, default: 20 },
          maxConnections: { type: 'integer', minimum: 0, default: 1000 },
          // Failed logins from one address within 10 minutes before it is refused for a while.
          authFailuresPerIp: { type: 'integer', minimum: 0, default: 10 },
        },
      },
      listeners: { type: 'array', items: mailboxListener, default: [] },
    },
  };
}

const MANIFEST_SCHEMA_PERMISSIONS = (MANIFEST_SCHEMA.properties as Record<string, object>).permissions;

/** A plugin's section: the keys the host reads; every other key is the plugin's own option. */
const pluginSection = {
  type: 'object',
  required: ['enabled'],
  properties: {
    enabled: { type: 'boolean' },
    failOpen: { type: 'boolean' },
    timeoutMs: { type: 'integer', minimum: 1 },
    // Force the sandbox on (or off) regardless of where the plugin comes from.
    sandbox: { type: 'boolean' },
    // What a sandboxed plugin may use, on top of asking for it in its manifest: the same shape
    // as the manifest's `permissions`, so one schema serves both.
    grants: MANIFEST_SCHEMA_PERMISSIONS,
  },
};

/**
 * Build the schema. A function, not a constant, because the `hostname` default is the machine's
 * name at load time.
 */
export function configSchema(): SchemaObject {
  return {
    type: 'object',
    additionalProperties: false,
    properties: {
      hostname: {
        type: 'string',
        pattern: '^[A-Za-z0-9._-]{1,253}$',
        'x-message': 'must be a host name (letters, digits, dots, hyphens)',
        default: hostname(),
      },
      dataDir: { type: 'string', minLength: 1, default: './data' },
      log: {
        type: 'object',
        additionalProperties: false,
        default: {},
        properties: {
          level: { enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], default: 'info' },
        },
      },
      tls: {
        type: 'object',
        additionalProperties: false,
        default: {},
        properties: {
          key: { type: 'string', default: '' },
          cert: { type: 'string', default: '' },
        },
      },
      smtp: {
        type: 'object',
        additionalProperties: false,
        default: {},
        properties: {
          banner: { type: 'string', default: 'Postern' },
          maxMessageSize: { type: 'integer', minimum: 1, default: 26214400 },
          maxRecipients: { type: 'integer', minimum: 1, default: 100 },
          allowInsecureAuth: { type: 'boolean', default: false },
          socketTimeoutMs: { type: 'integer', minimum: 1, default: 300000 },
          limits: {
            type: 'object',
            additionalProperties: false,
            default: {},
            properties: {
              connectionsPerIp: { type: 'integer', minimum: 0, default: 20 },
              maxConnections: { type: 'integer', minimum: 0, default: 1000 },
            },
          },
          listeners: { type: 'array', items: listener, default: DEFAULT_LISTENERS },
        },
      },
      relay: {
        type: 'object',
        additionalProperties: false,
        default: {},
        properties: {
          trustedNetworks: {
            type: 'array',
            default: [],
            items: { type: 'string', format: 'cidr', 'x-message': 'must be an IP address or CIDR range (10.0.0.0/8, 2001:db8::/32)' },
          },
        },
      },
      dns: {
        type: 'object',
        additionalProperties: false,
        default: {},
        properties: {
          servers: {
            type: 'array',
            default: [],
            items: { type: 'string', format: 'dns-server', 'x-message': 'must be host, host:port or [IPv6]:port' },
          },
          timeoutMs: { type: 'integer', minimum: 1, default: 5000 },
        },
      },
      delivery: {
        type: 'object',
        additionalProperties: false,
        default: {},
        properties: {
          folders: {
            type: 'array',
            uniqueItems: true,
            default: DEFAULT_FOLDERS,
            items: {
              type: 'string',
              // Folder names become directories: no separators, no leading dot, no control characters.
              pattern: '^[^./\\\\\\u0000-\\u001f][^/\\\\\\u0000-\\u001f]*$',
              'x-message': 'must be a folder name without "/", "\\" or a leading dot',
            },
          },
        },
      },
      queue: {
        type: 'object',
        additionalProperties: false,
        default: {},
        properties: {
          // The first retry of a deferred message comes this long after the failed attempt.
          retryIntervalSec: { type: 'integer', minimum: 1, default: 300 },
          // Each later wait is the previous one times this (1 = a fixed interval).
          backoff: { type: 'number', minimum: 1, maximum: 10, default: 2 },
          // No wait between attempts is longer than this.
          maxRetryIntervalSec: { type: 'integer', minimum: 1, default: 3600 },
          // No wait between attempts is shorter than this, whatever the backoff or a plugin says.
          minTimeInQueueSec: { type: 'integer', minimum: 0, default: 60 },
          // A message still undelivered after this long bounces (a DSN to the sender).
          maxTimeInQueueSec: { type: 'integer', minimum: 1, default: 432000 },
          // Warn the sender (a delay DSN) once a message has waited this long; 0 = never.
          delayWarningSec: { type: 'integer', minimum: 0, default: 14400 },
        },
      },
      outbound: {
        type: 'object',
        additionalProperties: false,
        default: {},
        properties: {
          // The port remote MX hosts are contacted on (25; tests use a high port).
          port: { ...PORT, default: 25 },
          // Bind outgoing connections to this local address (empty: the system chooses).
          localAddress: { type: 'string', default: '' },
          connectTimeoutMs: { type: 'integer', minimum: 1, default: 30000 },
          // Inactivity limit for each reply of the remote server.
          socketTimeoutMs: { type: 'integer', minimum: 1, default: 300000 },
          // Connections open at once, in total and to one destination (an MX host or a smarthost).
          maxConnections: { type: 'integer', minimum: 1, default: 100 },
          maxConnectionsPerDestination: { type: 'integer', minimum: 1, default: 10 },
          // opportunistic: STARTTLS when offered, certificates not checked (RFC 7435);
          // required: no TLS, no delivery (deferred); none: never STARTTLS.
          tls: { enum: ['opportunistic', 'required', 'none'], default: 'opportunistic' },
          // The "default relay": every remote message goes here instead of to the MX hosts.
          smarthost: smarthost,
          // Per-domain relays: { domain, host, port, ... }; they win over `smarthost`.
          routes: { type: 'array', default: [], items: { ...smarthost, required: ['domain', 'host'], properties: { ...smarthost.properties, domain: { type: 'string', minLength: 1 } } } },
        },
      },
      // No IMAP/POP3 listeners unless the file names them (postern init writes the standard ones), so
      // a config written before they existed does not start opening ports 110/143/993/995.
      imap: mailboxAccess(),
      pop3: mailboxAccess(),
      admin: {
        type: 'object',
        default: {},
        additionalProperties: false,
        properties: {
          enabled: { type: 'boolean', default: false },
          host: { type: 'string', minLength: 1, default: '127.0.0.1' },
          port: { type: 'integer', minimum: 1, maximum: 65535, default: 8025 },
          // Empty: taken from the environment variable POSTERN_ADMIN_TOKEN at start.
          token: { type: 'string', default: '' },
        },
      },
      plugins: {
        type: 'object',
        default: {},
        properties: {
          timeoutMs: { type: 'integer', minimum: 1, default: 5000 },
          paths: { type: 'array', default: [], items: { type: 'string', minLength: 1 } },
          // Plugins (or bundles, or npm package names) that run in-process although they come from
          // npm or a bundle; everything else from there runs sandboxed.
          trusted: { type: 'array', default: [], items: { type: 'string', minLength: 1 } },
        },
        // Every other key is one plugin's section.
        additionalProperties: pluginSection,
      },
    },
  };
}
