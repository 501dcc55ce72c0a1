/** The postern.yaml that `postern init` writes: every section present, commented, and valid as is. */
export interface TemplateListeners {
  host: string;
  mx: number;
  submission: number;
  submissions: number;
  imap: number;
  imaps: number;
  pop3: number;
  pop3s: number;
}

/** The standard ports on every interface: what a production server uses. */
export const STANDARD_LISTENERS: TemplateListeners = { host: '0.0.0.0', mx: 25, submission: 587, submissions: 465, imap: 143, imaps: 993, pop3: 110, pop3s: 995 };
/** `postern init --local`: loopback and high ports, so a first try needs neither root nor a free port 25. */
export const LOCAL_LISTENERS: TemplateListeners = { host: '127.0.0.1', mx: 2525, submission: 2587, submissions: 2465, imap: 2143, imaps: 2993, pop3: 2110, pop3s: 2995 };

export function configTemplate(hostname: string, listeners: TemplateListeners = STANDARD_LISTENERS): string {
  return `# Postern configuration. Reference: docs/reference/config.md
# Check it with: postern check-config --config <this file>
# Relative paths are relative to this file's folder.

# The server's own name: used in the SMTP greeting, Received headers and HELO when sending.
hostname: ${JSON.stringify(hostname)}

# Database, spool, mailboxes and TLS files.
dataDir: ./data

log:
  level: info   # fatal, error, warn, info, debug, trace or silent

tls:
  # PEM files. Empty: dataDir/tls/key.pem and cert.pem (postern init made a self-signed pair there).
  key: ""
  cert: ""

smtp:
  banner: Postern            # greeting: "220 <hostname> ESMTP <banner>"
  maxMessageSize: 26214400   # bytes (25 MiB)
  maxRecipients: 100
  allowInsecureAuth: false   # never offer AUTH without TLS
  socketTimeoutMs: 300000
  limits:
    connectionsPerIp: 20     # 0 = unlimited
    maxConnections: 1000
  # Ports below 1024 need root or CAP_NET_BIND_SERVICE. Use high ports on loopback to try things out.
  listeners:
    - name: mx               # mail from other servers
      host: ${listeners.host}
      port: ${listeners.mx}
      tls: starttls
      auth: none
    - name: submission       # mail from your users' clients
      host: ${listeners.host}
      port: ${listeners.submission}
      tls: starttls
      auth: required
    - name: submissions      # the same, TLS from the first byte
      host: ${listeners.host}
      port: ${listeners.submissions}
      tls: implicit
      auth: required

# Reading mail: IMAP and POP3 for your users' mail clients (docs/guides/mail-clients.md).
imap:
  allowInsecureAuth: false   # never accept a password without TLS
  listeners:
    - { name: imap,  host: ${listeners.host}, port: ${listeners.imap}, tls: starttls }
    - { name: imaps, host: ${listeners.host}, port: ${listeners.imaps}, tls: implicit }

pop3:
  allowInsecureAuth: false
  listeners:
    - { name: pop3,  host: ${listeners.host}, port: ${listeners.pop3}, tls: starttls }
    - { name: pop3s, host: ${listeners.host}, port: ${listeners.pop3s}, tls: implicit }

relay:
  # Clients in these ranges may relay without AUTH, e.g. [127.0.0.1/32, "::1/128"].
  trustedNetworks: []

dns:
  servers: []       # empty: the system's resolvers; else e.g. ["127.0.0.1:5353"]
  timeoutMs: 5000

delivery:
  folders: [INBOX, Sent, Drafts, Junk, Trash]

# The retry schedule of mail that could not be delivered at once (docs/reference/queue.md).
queue:
  retryIntervalSec: 300        # first retry 5 minutes after a temporary failure
  backoff: 2                   # then 10, 20, 40 minutes ...
  maxRetryIntervalSec: 3600    # ... but never more than an hour apart
  minTimeInQueueSec: 60        # and never less than a minute apart
  maxTimeInQueueSec: 432000    # bounce to the sender after 5 days
  delayWarningSec: 14400       # warn the sender after 4 hours (0 = never)

# Mail to other domains: straight to their MX hosts, or through a relay.
outbound:
  port: 25
  tls: opportunistic           # STARTTLS when offered; "required" defers mail to hosts without it
  connectTimeoutMs: 30000
  maxConnections: 100
  maxConnectionsPerDestination: 10
  # The default relay (smarthost) for all remote mail, e.g.:
  # smarthost: { host: smtp.provider.example, port: 587, tls: starttls, auth: { user: me, pass: secret } }
  # Relays for single domains win over it:
  routes: []                   # e.g. [{ domain: partner.example, host: 10.0.0.5, port: 25, tls: none }]

plugins:
  timeoutMs: 5000   # default time limit for each plugin tap
  paths: []         # extra folders to look for plugins in

  # Allow and deny lists by client network and sender address; checked before anything else.
  access:
    enabled: true
    allow:
      networks: []
      senders: []
    deny:
      networks: []
      senders: []

  # At most \`limit\` messages per \`windowSec\` seconds from one key (ip, or the authenticated user).
  rate-limit:
    enabled: true
    limit: 120
    windowSec: 60
    key: ip

  # SPF (RFC 7208) of the sender's domain (the HELO name for bounces), reported in the
  # Authentication-Results and Received-SPF headers; optionally the PTR rule: the sender's domain must
  # match the client's forward-confirmed reverse DNS name (docs/plugins/spf-ptr.md).
  spf-ptr:
    enabled: false
    ptr: "off"                 # off, header-only (adds iprev= to Authentication-Results) or reject
    receivedSpf: true          # add a Received-SPF header

  # DNS blocklists (RBL): clients a listed zone names are refused at connect (docs/plugins/dnsbl.md).
  dnsbl:
    enabled: false
    zones: []                  # e.g. [{ zone: zen.spamhaus.org, returnCodes: ["127.0.0.2-127.0.0.11"] }]
    action: reject             # reject (554), tempfail (421) or tag (only record it)
    cacheMinSeconds: 60        # answers are cached for the list's DNS TTL, at least this...
    cacheMaxSeconds: 3600      # ...and at most this (0: no cache)
    negativeCacheSeconds: 60   # "not listed" (NXDOMAIN) is cached this long

  # Virus scanning with a ClamAV daemon (clamd) over TCP (docs/plugins/clamav.md).
  clamav:
    enabled: false
    host: 127.0.0.1
    port: 3310
    action: reject             # reject (554), quarantine (the recipient's Quarantine folder) or
                               # notice (deliver a notice instead, the original attached)
    onError: tempfail          # when clamd is down or slow: tempfail (451) or accept

  # Spam scoring with a SpamAssassin daemon (spamd) over SPAMC/1.5: X-Spam-Flag, X-Spam-Score and
  # X-Spam-Status on every scanned message, spam into the recipient's Junk folder
  # (docs/plugins/spamassassin.md).
  spamassassin:
    enabled: false
    host: 127.0.0.1
    port: 783
    markThreshold: null        # spam from this score on (Junk folder); null: spamd's required_score (5.0)
    rejectThreshold: null      # refuse from this score on with 550 5.7.1 (e.g. 15); null: never
    maxSizeBytes: 512000       # larger messages are not scanned (spamc's default)
    onError: tempfail          # when spamd is down or slow: tempfail (451) or accept
    skipAuthenticated: true    # do not scan mail from logged-in users (their outbound mail)

  # Greylisting: the first attempt of an unknown (client network, sender, recipient) is asked to
  # come back later; real servers do, most spam bots do not (docs/plugins/greylist.md).
  greylist:
    enabled: false
    ignoreResendSec: 300       # a retry sooner than this is still refused
    waitForResendHours: 24     # an attempt not retried within this is forgotten
    passedDays: 36             # a triplet that passed is let through this long
    skipSpfPass: true

  # DKIM, ARC and DMARC of inbound mail; DKIM signing of mail from authenticated users and trusted
  # networks with keys made by \`postern dkim keygen DOMAIN\` (docs/plugins/dkim.md).
  dkim:
    enabled: false
    selectors: [postern]       # signing keys: <dataDir>/dkim/<domain>/<selector>.key
    dmarc:
      enforce: true            # false: only record DMARC results
      rejectAction: reject     # what p=reject does: reject (550 5.7.1) or quarantine (Junk)
`;
}
