import type { ImapSession, ImapState } from '../imap-session.js';
import type { ArgReader } from '../protocol/arg-reader.js';

/** One command as its handler gets it: the arguments are still to be read from `args`. */
export interface CommandContext {
  session: ImapSession;
  tag: string;
  /** The command name, upper-cased ("FETCH" also for UID FETCH). */
  name: string;
  /** Called as `UID <name>`: sequence sets are UIDs and responses carry UID. */
  uid: boolean;
  /** Positioned after the command name (and its space, when arguments follow). */
  args: ArgReader;
}

/** The tagged response that ends a command. */
export interface Completion {
  status: 'OK' | 'NO' | 'BAD';
  /** A response code without brackets (RFC 5530), e.g. "TRYCREATE" or "APPENDUID 7 42". */
  code?: string;
  text: string;
  /** The handler has written the tagged response itself (STARTTLS, before the handshake). */
  answered?: boolean;
}

export interface CommandHandler {
  readonly name: string;
  /** The states the command is valid in (RFC 3501 3). */
  readonly states: readonly ImapState[];
  /** Also valid as `UID <name>` (RFC 3501 6.4.8, RFC 4315, RFC 6851). */
  readonly uid?: boolean;
  /**
   * Without the UID prefix, EXPUNGE responses of other sessions' changes are held back until a
   * later command (FETCH, STORE, SEARCH: RFC 3501 7.4.1).
   */
  readonly holdsExpunges?: boolean;
  run(ctx: CommandContext): Promise<Completion>;
}

export function ok(text: string, code?: string): Completion {
  return code ? { status: 'OK', code, text } : { status: 'OK', text };
}

export const AUTHENTICATED: readonly ImapState[] = ['authenticated', 'selected'];
export const SELECTED: readonly ImapState[] = ['selected'];
export const NOT_AUTHENTICATED: readonly ImapState[] = ['not-authenticated'];
export const ANY: readonly ImapState[] = ['not-authenticated', 'authenticated', 'selected'];
