/**
 * A command that cannot be carried out, as the client is to be told: `BAD` for a command the
 * server could not understand (syntax, wrong state), `NO` for one it understood and refuses.
 * `code` is the response code (RFC 5530) without brackets, e.g. `TRYCREATE`, `BADCHARSET (UTF-8)`.
 */
export class ImapError extends Error {
  readonly status: 'NO' | 'BAD';
  readonly code: string | undefined;

  constructor(status: 'NO' | 'BAD', message: string, code?: string) {
    super(message);
    this.name = 'ImapError';
    this.status = status;
    this.code = code;
  }
}

/** A syntax error: the client gets `BAD`. */
export function bad(message: string, code?: string): ImapError {
  return new ImapError('BAD', message, code);
}

/** A refusal: the client gets `NO`. */
export function no(message: string, code?: string): ImapError {
  return new ImapError('NO', message, code);
}
