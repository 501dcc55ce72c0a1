/**
 * The error catalogue: every error Postern raises on purpose has a stable code from this list.
 * Tests and API clients match on `code`, never on message text. docs/reference/errors.md describes
 * each one; keep the two in step.
 */
export const ErrorCode = Object.freeze({
  /** The config file could not be read or parsed as YAML. */
  CONFIG_UNREADABLE: 'POSTERN_CONFIG_UNREADABLE',
  /** The config file parsed but a key is unknown, missing or of the wrong type. */
  CONFIG_INVALID: 'POSTERN_CONFIG_INVALID',
  /** A plugin named in config could not be found. */
  PLUGIN_NOT_FOUND: 'POSTERN_PLUGIN_NOT_FOUND',
  /** A plugin failed to load (import error, bad export, setup threw). */
  PLUGIN_LOAD_FAILED: 'POSTERN_PLUGIN_LOAD_FAILED',
  /** A plugin's options failed its validation. */
  PLUGIN_OPTIONS_INVALID: 'POSTERN_PLUGIN_OPTIONS_INVALID',
  /** A plugin's tap threw. */
  PLUGIN_TAP_FAILED: 'POSTERN_PLUGIN_TAP_FAILED',
  /** A plugin's tap did not settle within its timeout. */
  PLUGIN_TAP_TIMEOUT: 'POSTERN_PLUGIN_TAP_TIMEOUT',
  /** A plugin's tap returned something that is not a Verdict. */
  PLUGIN_BAD_VERDICT: 'POSTERN_PLUGIN_BAD_VERDICT',
  /** A sandboxed plugin's code ran past its time limit without a break and was stopped (a runaway loop, also after an await). */
  PLUGIN_SANDBOX_TIMEOUT: 'POSTERN_PLUGIN_SANDBOX_TIMEOUT',
  /** A sandboxed plugin asked for something it was not granted (a net host:port, a results key outside its own). */
  PLUGIN_SANDBOX_DENIED: 'POSTERN_PLUGIN_SANDBOX_DENIED',
  /** A sandboxed plugin went over a sandbox limit (kv key or value size, open sockets, DNS queries in flight, a Buffer or message over 4 MiB). */
  PLUGIN_SANDBOX_LIMIT: 'POSTERN_PLUGIN_SANDBOX_LIMIT',
  /** A sandboxed plugin's worker thread died (out of memory, a crash) or went away under a call; a new one is started. */
  PLUGIN_SANDBOX_CRASHED: 'POSTERN_PLUGIN_SANDBOX_CRASHED',
  /** A plugin's sandbox grants are malformed (an unknown key, a net entry that is not "host:port"). */
  PLUGIN_GRANTS_INVALID: 'POSTERN_PLUGIN_GRANTS_INVALID',
  /** A plugin folder has neither a `postern` key in package.json nor a postern.json. */
  PLUGIN_MANIFEST_MISSING: 'POSTERN_PLUGIN_MANIFEST_MISSING',
  /** A plugin's manifest is unreadable, not JSON, or breaks the manifest rules; the message names the key. */
  PLUGIN_MANIFEST_INVALID: 'POSTERN_PLUGIN_MANIFEST_INVALID',
  /** A plugin's `engine` range does not include this Postern's version. */
  PLUGIN_ENGINE_MISMATCH: 'POSTERN_PLUGIN_ENGINE_MISMATCH',
  /** esbuild could not build a plugin; the message lists `file:line:column: text` for each error. */
  PLUGIN_COMPILE_FAILED: 'POSTERN_PLUGIN_COMPILE_FAILED',
  /** A policy bundle's `postern.bundle` is missing or malformed; the message names the key. */
  BUNDLE_INVALID: 'POSTERN_BUNDLE_INVALID',
  /** A plugin a policy bundle lists is installed, but its version is outside the bundle's range. */
  BUNDLE_VERSION_MISMATCH: 'POSTERN_BUNDLE_VERSION_MISMATCH',
  /** A domain name, address or alias target is not syntactically valid. */
  INVALID_ADDRESS: 'POSTERN_INVALID_ADDRESS',
  /** The domain already exists. */
  DOMAIN_EXISTS: 'POSTERN_DOMAIN_EXISTS',
  /** The domain does not exist. */
  DOMAIN_NOT_FOUND: 'POSTERN_DOMAIN_NOT_FOUND',
  /** The domain still has users or aliases; remove them first (or use --force). */
  DOMAIN_NOT_EMPTY: 'POSTERN_DOMAIN_NOT_EMPTY',
  /** The user already exists. */
  USER_EXISTS: 'POSTERN_USER_EXISTS',
  /** The user does not exist. */
  USER_NOT_FOUND: 'POSTERN_USER_NOT_FOUND',
  /** The password is empty or too short. */
  WEAK_PASSWORD: 'POSTERN_WEAK_PASSWORD',
  /** The alias (source → target) does not exist. */
  ALIAS_NOT_FOUND: 'POSTERN_ALIAS_NOT_FOUND',
  /** An alias source collides with a user, or an alias would loop. */
  ALIAS_CONFLICT: 'POSTERN_ALIAS_CONFLICT',
  /** A listener could not bind its address/port. */
  LISTEN_FAILED: 'POSTERN_LISTEN_FAILED',
  /** TLS is configured on a listener but no key/certificate could be loaded. */
  TLS_UNAVAILABLE: 'POSTERN_TLS_UNAVAILABLE',
  /** A spool file is corrupt and was moved aside to spool/corrupt. */
  SPOOL_CORRUPT: 'POSTERN_SPOOL_CORRUPT',
  /** Writing a message to the spool failed (disk full, permissions). The client got a 451. */
  SPOOL_WRITE_FAILED: 'POSTERN_SPOOL_WRITE_FAILED',
  /** Local delivery into a Maildir failed; the recipient is deferred. */
  DELIVERY_FAILED: 'POSTERN_DELIVERY_FAILED',
  /** A reload was asked for and the new plugin generation failed; the old one keeps serving. */
  PLUGIN_RELOAD_FAILED: 'POSTERN_PLUGIN_RELOAD_FAILED',
  /** The CLI needs the running server (pid file in dataDir) and found none. */
  SERVER_NOT_RUNNING: 'POSTERN_SERVER_NOT_RUNNING',
  /** admin.enabled is set but no token (admin.token or $POSTERN_ADMIN_TOKEN, 16+ characters) is. */
  ADMIN_TOKEN_MISSING: 'POSTERN_ADMIN_TOKEN_MISSING',
  /** An admin API request without the right bearer token. */
  ADMIN_UNAUTHORIZED: 'POSTERN_ADMIN_UNAUTHORIZED',
  /** An admin API request for an endpoint that does not exist. */
  ADMIN_NOT_FOUND: 'POSTERN_ADMIN_NOT_FOUND',
  /** A CLI command was called with wrong arguments. */
  USAGE: 'POSTERN_USAGE',
  /** `postern init` found an existing postern.yaml; pass --force to overwrite it. */
  CONFIG_EXISTS: 'POSTERN_CONFIG_EXISTS',
  /** The SQLite database in dataDir could not be opened, configured or migrated. */
  DATABASE_UNAVAILABLE: 'POSTERN_DATABASE_UNAVAILABLE',
  /** The database was written by a newer Postern (its schema version is higher than this build knows). */
  DATABASE_TOO_NEW: 'POSTERN_DATABASE_TOO_NEW',
  /** A mailbox quota is not null or a non-negative whole number of bytes. */
  INVALID_QUOTA: 'POSTERN_INVALID_QUOTA',
  /** A remote host could not be reached or refused the session; the next host is tried, else the recipients are deferred. */
  REMOTE_UNREACHABLE: 'POSTERN_REMOTE_UNREACHABLE',
  /** `postern queue show|retry|delete|hold|release ID`: no message with that id is waiting in the queue. */
  QUEUE_NOT_FOUND: 'POSTERN_QUEUE_NOT_FOUND',
  /** The queue knows a message whose spool file is gone (deleted by hand?); its queue entry is dropped. */
  QUEUE_SPOOL_MISSING: 'POSTERN_QUEUE_SPOOL_MISSING',
  /** A bounce (DSN) was due but not sent: null sender, a bounce of a bounce, or an auto-generated message. */
  BOUNCE_SUPPRESSED: 'POSTERN_BOUNCE_SUPPRESSED',
  /** `postern dkim keygen`: a key for that domain and selector already exists; pass --force to replace it. */
  DKIM_KEY_EXISTS: 'POSTERN_DKIM_KEY_EXISTS',
  /** `postern dkim record`: there is no key for that domain and selector in the key directory. */
  DKIM_KEY_NOT_FOUND: 'POSTERN_DKIM_KEY_NOT_FOUND',
});

export type ErrorCodeValue = (typeof ErrorCode)[keyof typeof ErrorCode];

/** An error with a stable code from the catalogue. */
export class PosternError extends Error {
  readonly code: ErrorCodeValue;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCodeValue, message: string, details?: Record<string, unknown>, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PosternError';
    this.code = code;
    this.details = details;
  }
}

export function isPosternError(err: unknown, code?: ErrorCodeValue): err is PosternError {
  return err instanceof PosternError && (code === undefined || err.code === code);
}
