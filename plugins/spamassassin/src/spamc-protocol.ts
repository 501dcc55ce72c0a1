/**
 * The SPAMC/1.5 wire format, apart from any socket: building a request and parsing spamd's reply.
 * Protocol: spamd/PROTOCOL in the SpamAssassin source tree (not shipped by Debian's packages):
 *
 *   request  CHECK SPAMC/1.5\r\n  Content-length: N\r\n  [User: name\r\n]  \r\n  <N bytes of message>
 *   reply    SPAMD/1.1 0 EX_OK\r\n  [Content-length: M\r\n]  Spam: True ; 7.2 / 5.0\r\n  \r\n  <body>
 *   error    SPAMD/1.0 76 Bad header line: …\r\n        (status line only; the code is a sysexits.h EX_*)
 *
 * The body is empty for CHECK, the comma-separated rule names for SYMBOLS and a text report for
 * REPORT. PROCESS (the whole message back with spamd's headers) is not offered: Postern adds its
 * own headers and never replaces the message.
 */

/** What to ask spamd. CHECK: verdict and score only; SYMBOLS: also the rules that hit; REPORT: also the text report. */
export type SpamcCommand = 'CHECK' | 'SYMBOLS' | 'REPORT';

/** Stable codes of {@link SpamcError}; tests and callers switch on these, never on the text. */
export type SpamcErrorCode =
  /** No TCP connection (refused, unreachable, reset before a reply). `cause` has Node's errno code. */
  | 'SPAMC_CONNECT'
  /** No connection within the connect timeout, or no complete reply within the overall timeout. */
  | 'SPAMC_TIMEOUT'
  /** Something answered, but not in SPAMD/1.x form (or the reply was cut short or too large). */
  | 'SPAMC_BAD_REPLY'
  /** spamd answered with an error status (an EX_* code other than EX_OK); see `spamdCode`. */
  | 'SPAMC_SPAMD_ERROR';

/** sysexits.h names of the codes spamd sends in its status line (spamd/PROTOCOL). */
export const SPAMD_EXIT_CODES: Readonly<Record<number, string>> = Object.freeze({
  0: 'EX_OK',
  64: 'EX_USAGE',
  65: 'EX_DATAERR',
  66: 'EX_NOINPUT',
  67: 'EX_NOUSER',
  68: 'EX_NOHOST',
  69: 'EX_UNAVAILABLE',
  70: 'EX_SOFTWARE',
  71: 'EX_OSERR',
  72: 'EX_OSFILE',
  73: 'EX_CANTCREAT',
  74: 'EX_IOERR',
  75: 'EX_TEMPFAIL',
  76: 'EX_PROTOCOL',
  77: 'EX_NOPERM',
  78: 'EX_CONFIG',
  79: 'EX_TIMEOUT',
});

/**
 * Why a spamc exchange gave no verdict.
 * @example
 * try { await spamcRequest(target, 'SYMBOLS', message); }
 * catch (err) { if (err instanceof SpamcError && err.code === 'SPAMC_TIMEOUT') … }
 */
export class SpamcError extends Error {
  override readonly name = 'SpamcError';
  readonly code: SpamcErrorCode;
  /** For SPAMC_SPAMD_ERROR: spamd's numeric code (e.g. 76) and its name (EX_PROTOCOL). */
  readonly spamdCode: number | undefined;
  readonly spamdCodeName: string | undefined;

  constructor(code: SpamcErrorCode, message: string, options: { cause?: unknown; spamdCode?: number } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.spamdCode = options.spamdCode;
    this.spamdCodeName = options.spamdCode === undefined ? undefined : (SPAMD_EXIT_CODES[options.spamdCode] ?? `EX_${options.spamdCode}`);
  }
}

/** spamd's answer to CHECK / SYMBOLS / REPORT. */
export interface SpamcReply {
  /** The protocol version spamd answered with ("1.1"). */
  version: string;
  /** spamd's own verdict: score >= its `required_score`. */
  isSpam: boolean;
  score: number;
  /** spamd's threshold (`required_score`, 5.0 by default). */
  threshold: number;
  /** SYMBOLS: the names of the rules that hit, in spamd's order; [] for CHECK and REPORT. */
  symbols: string[];
  /** REPORT: spamd's text report; undefined otherwise. */
  report: string | undefined;
  /** The reply's headers, names lower-cased. */
  headers: Record<string, string>;
}

/** The request bytes for `command` with `message`; `user` becomes the `User:` header (spamc -u). */
export function encodeRequest(command: SpamcCommand, message: Buffer, user?: string): Buffer {
  const lines = [`${command} SPAMC/1.5`, `Content-length: ${message.length}`];
  if (user !== undefined && user !== '') {
    // A CR, LF or NUL in the name would let it inject a header line.
    if (/[\r\n\0]/.test(user)) throw new TypeError('spamc: user must not contain CR, LF or NUL');
    lines.push(`User: ${user}`);
  }
  return Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), message]);
}

const STATUS = /^SPAMD\/(\d+\.\d+) +(\d+) *(.*)$/;
const SPAM = /^(True|False|Yes|No) *; *(-?\d+(?:\.\d+)?) *\/ *(-?\d+(?:\.\d+)?)$/i;

const bad = (why: string, raw: Buffer): SpamcError => {
  const shown = JSON.stringify(raw.subarray(0, 80).toString('latin1'));
  return new SpamcError('SPAMC_BAD_REPLY', `spamd reply malformed: ${why} (got ${shown}${raw.length > 80 ? '…' : ''})`);
};

/**
 * True once `raw` holds a whole reply: an error status line, or the headers and `Content-length`
 * bytes of body (no Content-length: no body, as for CHECK). spamd closes the connection after its
 * reply anyway; this lets the client answer without waiting for the close. A first line that is not
 * a SPAMD status counts as complete, so garbage fails at once.
 */
export function replyComplete(raw: Buffer): boolean {
  const lineEnd = raw.indexOf('\r\n');
  if (lineEnd === -1) return false;
  const status = STATUS.exec(raw.subarray(0, lineEnd).toString('latin1'));
  if (!status || status[2] !== '0') return true;
  const headerEnd = raw.indexOf('\r\n\r\n', lineEnd);
  if (headerEnd === -1) return false;
  const length = /^content-length: *(\d+) *$/im.exec(raw.subarray(lineEnd + 2, headerEnd).toString('latin1'));
  return length === null || raw.length - (headerEnd + 4) >= Number(length[1]);
}

/**
 * Parse spamd's complete reply (everything it sent before closing). Throws a SpamcError:
 * SPAMC_SPAMD_ERROR for an error status, SPAMC_BAD_REPLY for anything not in SPAMD/1.x form.
 */
export function parseReply(command: SpamcCommand, raw: Buffer): SpamcReply {
  const lineEnd = raw.indexOf('\r\n');
  if (raw.length === 0) throw bad('empty reply', raw);
  const statusLine = raw.subarray(0, lineEnd === -1 ? raw.length : lineEnd).toString('latin1');
  const status = STATUS.exec(statusLine);
  if (!status) throw bad('no SPAMD/1.x status line', raw);
  const [, version, codeText, text] = status as unknown as [string, string, string, string];
  const code = Number(codeText);
  if (code !== 0) {
    const name = SPAMD_EXIT_CODES[code] ?? `EX_${code}`;
    throw new SpamcError('SPAMC_SPAMD_ERROR', `spamd error ${code} ${name}: ${text.trim() || 'no text'}`, { spamdCode: code });
  }
  if (!version.startsWith('1.')) throw bad(`unknown protocol version ${version}`, raw);
  if (lineEnd === -1) throw bad('status line without CRLF', raw);

  const headerEnd = raw.indexOf('\r\n\r\n', lineEnd);
  // Header section: from the end of the status line up to the blank line (or the end of the
  // reply; spamd always sends the blank line after EX_OK, a missing one is tolerated).
  const headerText = raw.subarray(lineEnd + 2, headerEnd === -1 ? raw.length : headerEnd + 2).toString('latin1');
  const body = headerEnd === -1 ? Buffer.alloc(0) : raw.subarray(headerEnd + 4);
  const headers: Record<string, string> = {};
  for (const line of headerText.split('\r\n')) {
    if (line === '') continue;
    const colon = line.indexOf(':');
    if (colon <= 0) throw bad(`header line without a name: ${JSON.stringify(line)}`, raw);
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }

  const spam = headers.spam === undefined ? null : SPAM.exec(headers.spam);
  if (!spam) throw bad(headers.spam === undefined ? 'no Spam: header' : `Spam: header not "True|False ; score / threshold": ${JSON.stringify(headers.spam)}`, raw);
  const [, flag, scoreText, thresholdText] = spam as unknown as [string, string, string, string];

  if (headers['content-length'] !== undefined) {
    const declared = Number(headers['content-length']);
    if (!/^\d+$/.test(headers['content-length']) || declared !== body.length) {
      throw bad(`Content-length ${headers['content-length']} but ${body.length} body bytes`, raw);
    }
  }

  const bodyText = body.toString('utf8');
  const symbols = command === 'SYMBOLS' ? bodyText.split(',').map((s) => s.trim()).filter((s) => s !== '') : [];
  return {
    version,
    isSpam: /^(true|yes)$/i.test(flag),
    score: Number(scoreText),
    threshold: Number(thresholdText),
    symbols,
    report: command === 'REPORT' ? bodyText : undefined,
    headers,
  };
}
