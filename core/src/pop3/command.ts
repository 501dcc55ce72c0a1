import type { Logger } from 'pino';
import type { MailStore } from '../mailstore/mail-store.js';
import type { MailboxSession, SessionGuard } from '../mailstore/session-guard.js';
import type { MailboxAccessConfig } from '../config/types.js';
import type { Maildrop, MaildropLocks } from './maildrop.js';

/** RFC 1939 §3: AUTHORIZATION until a login succeeds, then TRANSACTION; UPDATE is QUIT's work. */
export type Pop3State = 'authorization' | 'transaction';

/**
 * What a command handler may see and do on its connection. The connection (pop3-connection.ts)
 * owns the socket; handlers only answer through these methods, so none of them touches the wire.
 */
export interface Pop3Conn {
  readonly session: MailboxSession;
  readonly state: Pop3State;
  readonly settings: MailboxAccessConfig;
  readonly guard: SessionGuard;
  readonly locks: MaildropLocks;
  readonly store: MailStore;
  readonly log: Logger;
  /** STLS is possible: a STARTTLS listener whose connection is not yet encrypted. */
  readonly canStartTls: boolean;
  /** The maildrop, in the TRANSACTION state. */
  readonly maildrop: Maildrop | undefined;
  /** The name of a USER command waiting for its PASS. */
  pendingUser: string | undefined;

  /** `+OK text`. */
  ok(text: string): Promise<void>;
  /** `-ERR text`: a refusal of a well-formed command (wrong password, no such message). */
  err(text: string): Promise<void>;
  /** `-ERR text` for a malformed command or one not allowed now; counts toward the bad-command limit. */
  bad(text: string): Promise<void>;
  /** `+OK first` then `body`, which is already dot-stuffed and ends with the terminator (multiline.ts). */
  multiline(first: string, body: Buffer | Buffer[]): Promise<void>;
  /** A SASL continuation: `+ text`. */
  challenge(text: string): Promise<void>;
  /** The client's next line (a SASL response); undefined when the line was too long or the connection closed. */
  readLine(): Promise<string | undefined>;

  /** A login succeeded and the maildrop is locked: enter TRANSACTION. */
  enterTransaction(maildrop: Maildrop): void;
  /** Answer +OK and switch the connection to TLS (STLS); resolves once the handshake is done. */
  startTls(): Promise<void>;
  /** Close after what was written is sent. */
  close(): void;
}

/** One POP3 command: its keyword, the states it is allowed in, its handler. */
export interface Pop3Command {
  readonly name: string;
  readonly states: readonly Pop3State[];
  /** `args`: the line after the keyword and its space, unchanged (PASS keeps spaces in passwords). */
  run(conn: Pop3Conn, args: string): Promise<void>;
}
