import type { Logger } from 'pino';
import { MailStoreError, type FolderChange, type MailStore } from '../mailstore/mail-store.js';
import type { MailboxSession } from '../mailstore/session-guard.js';
import { capabilities } from './capabilities.js';
import type { CommandHandler, Completion } from './commands/command.js';
import { COMMANDS } from './commands/index.js';
import type { ImapConnection } from './imap-connection.js';
import type { ImapContext } from './imap-context.js';
import { ArgReader } from './protocol/arg-reader.js';
import { isValidTag, type LineResult } from './protocol/command-reader.js';
import { ImapError } from './protocol/protocol-error.js';
import { safeText, withCode } from './protocol/response-format.js';
import { folderKey } from './recent-tracker.js';
import { SelectedFolder } from './selected-folder.js';
import { storeRefusal } from './store-errors.js';

/** RFC 3501 3: the states of a connection. */
export type ImapState = 'not-authenticated' | 'authenticated' | 'selected' | 'logout';

/**
 * One IMAP connection's state machine: reads commands one at a time, dispatches each to its
 * handler (commands/), answers with the handler's completion, and in between tells the client
 * of changes to the selected folder. A handler that throws never ends the connection: a
 * syntax error is BAD, a store refusal NO [code], anything else is logged and `NO [SERVERBUG]`.
 */
export class ImapSession {
  state: ImapState = 'not-authenticated';
  readonly ctx: ImapContext;
  readonly conn: ImapConnection;
  /** The session as the guard and plugins see it (user, secure, plugin generation). */
  readonly mailbox: MailboxSession;
  readonly log: Logger;
  selected: SelectedFolder | undefined;
  /** CONDSTORE enabled (ENABLE, SELECT (CONDSTORE), or a command that uses it): MODSEQ in FETCH responses. */
  condstore = false;
  #unwatch: (() => void) | undefined;
  /** Changes reported while this session's own store calls run (see ownChange). */
  #ownCalls = 0;
  #ownChanges: FolderChange[] = [];
  #updates: Promise<void> = Promise.resolve();
  #wake: (() => void) | undefined;

  constructor(ctx: ImapContext, conn: ImapConnection, mailbox: MailboxSession) {
    this.ctx = ctx;
    this.conn = conn;
    this.mailbox = mailbox;
    this.log = ctx.mail.log.child({ imapSession: mailbox.id, listener: ctx.listener.name });
  }

  get store(): MailStore {
    return this.ctx.mail.store;
  }

  /** The logged-in user (only call in the authenticated and selected states). */
  get user(): string {
    if (!this.mailbox.user) throw new Error('no user: not authenticated');
    return this.mailbox.user;
  }

  get settings() {
    return this.ctx.mail.config.imap;
  }

  capabilities(): string[] {
    return capabilities({
      authenticated: this.state === 'authenticated' || this.state === 'selected',
      secure: this.conn.secure,
      starttls: this.ctx.listener.tls === 'starttls' && this.ctx.tls !== undefined,
      allowInsecureAuth: this.settings.allowInsecureAuth,
    });
  }

  /** Greet, then serve commands until LOGOUT, the end of the connection or a fatal framing error. */
  async run(): Promise<void> {
    const { reader, writer } = this.conn;
    try {
      writer.line(`* OK [CAPABILITY ${this.capabilities().join(' ')}] Postern ready`);
      await writer.flush();
      while (this.state !== 'logout' && !this.conn.closed) {
        const frame = await reader.next();
        if (frame.kind === 'end') break;
        if (frame.kind === 'error') {
          writer.line(`${frame.tag} ${frame.status} ${withCode(frame.code, frame.text)}`);
          if (frame.fatal) {
            writer.line('* BYE Closing the connection');
            this.state = 'logout';
          }
        } else {
          await this.#execute(frame.data);
        }
        await writer.flush();
      }
    } catch (err) {
      this.log.warn({ err }, 'imap session failed');
    } finally {
      this.#unwatch?.();
      this.#unwatch = undefined;
      this.selected = undefined;
      await this.conn.end().catch(() => undefined);
    }
  }

  /** Close now with a BYE (idle timeout, server shutdown). */
  bye(text: string): void {
    if (this.conn.closed) return;
    this.conn.writer.line(`* BYE ${safeText(text)}`);
    this.state = 'logout';
    void this.conn.end();
  }

  async #execute(data: Buffer): Promise<void> {
    const { writer } = this.conn;
    const space = data.indexOf(0x20);
    const tag = data.toString('latin1', 0, space < 0 ? Math.min(data.length, 64) : space);
    if (space < 0 || !isValidTag(tag)) {
      writer.line(`${isValidTag(tag) ? tag : '*'} BAD Missing command`);
      return;
    }
    const args = new ArgReader(data, space + 1);
    let name = readName(args);
    let uid = false;
    if (name === 'UID' && args.accept(0x20)) {
      uid = true;
      name = readName(args);
    }
    const handler: CommandHandler | undefined = COMMANDS.get(name);
    if (!handler || (uid && !handler.uid) || (!uid && name === 'UID')) {
      writer.line(`${tag} BAD Unknown command`);
      return;
    }
    if (!handler.states.includes(this.state)) {
      writer.line(`${tag} BAD ${name} is not valid ${STATE_TEXT[this.state]}`);
      return;
    }
    let completion: Completion;
    try {
      if (!args.atEnd) args.sp();
      completion = await handler.run({ session: this, tag, name, uid, args });
    } catch (err) {
      completion = this.#failure(err, name);
    }
    if (this.state === 'selected' && !this.conn.closed) {
      try {
        await this.sendUpdates({ sync: false, expunge: !(handler.holdsExpunges && !uid) });
      } catch (err) {
        this.log.warn({ err }, 'cannot refresh the selected folder');
      }
    }
    if (!completion.answered) writer.line(`${tag} ${completion.status} ${withCode(completion.code, safeText(completion.text))}`);
  }

  #failure(err: unknown, name: string): Completion {
    if (err instanceof ImapError) return { status: err.status, ...(err.code ? { code: err.code } : {}), text: err.message };
    if (err instanceof MailStoreError) return storeRefusal(err);
    this.log.error({ err, command: name }, 'imap command failed');
    return { status: 'NO', code: 'SERVERBUG', text: 'Internal error, the command failed' };
  }

  /** A login succeeded (the guard set `mailbox.user`): watch the user's folders. */
  authenticated(): void {
    this.state = 'authenticated';
    this.conn.setIdleTimeout(this.settings.idleTimeoutMs);
    this.#unwatch = this.store.watch(this.user, (change) => this.#onChange(change));
  }

  #onChange(change: FolderChange): void {
    const folder = this.selected;
    if (!folder || change.kind === 'folders' || folderKey(change.folder) !== folderKey(folder.name)) return;
    if (this.#ownCalls > 0 && change.kind !== 'added') {
      this.#ownChanges.push(change);
      return;
    }
    folder.dirty = true;
    this.#wake?.();
  }

  /**
   * Run one of this session's own flag changes or expunges on the selected folder. The store
   * reports it to every watcher, this session included; the session has already updated its
   * view and answered, so the report of its own change (the same UIDs) is dropped rather than
   * paid for with a sync of the whole folder. Anything else reported meanwhile still counts.
   */
  async ownChange<T>(run: () => Promise<T>, uidsOf: (result: T) => readonly number[]): Promise<T> {
    this.#ownCalls++;
    let result: T | undefined;
    try {
      result = await run();
      return result;
    } finally {
      this.#ownCalls--;
      const mine = result === undefined ? new Set<number>() : new Set(uidsOf(result));
      const changes = this.#ownChanges;
      if (this.#ownCalls === 0) this.#ownChanges = [];
      // The store reports each call once: a second matching report is someone else's change.
      let dropped = false;
      for (const change of this.#ownCalls === 0 ? changes : []) {
        if (!dropped && change.kind !== 'added' && change.kind !== 'folders' && change.uids.every((uid) => mine.has(uid))) {
          dropped = true;
          continue;
        }
        if (this.selected) this.selected.dirty = true;
        this.#wake?.();
      }
    }
  }

  /** Be called when the selected folder changes (IDLE); returns the function that stops it. */
  onFolderChange(wake: () => void): () => void {
    this.#wake = wake;
    return () => {
      if (this.#wake === wake) this.#wake = undefined;
    };
  }

  /** SELECT / EXAMINE: the new view (the old one is gone first, even if this fails). */
  async select(name: string, readOnly: boolean): Promise<SelectedFolder> {
    this.deselect();
    const snapshot = await this.store.sync(this.user, name);
    const uids = snapshot.messages.map((m) => m.uid);
    const recent = this.ctx.recent.claim(this.user, snapshot.info.name, snapshot.info.uidValidity, uids, readOnly);
    const folder = new SelectedFolder(snapshot.info.name, readOnly, snapshot, recent);
    this.selected = folder;
    this.state = 'selected';
    return folder;
  }

  deselect(): void {
    this.selected = undefined;
    if (this.state === 'selected') this.state = 'authenticated';
  }

  /** The selected folder (handlers of selected-state commands). */
  get folder(): SelectedFolder {
    if (!this.selected) throw new Error('no folder selected');
    return this.selected;
  }

  /**
   * Tell the client of changes to the selected folder: with `sync` always ask the store (NOOP,
   * CHECK, IDLE), else only when the store said something changed. Runs one at a time.
   */
  sendUpdates(options: { sync: boolean; expunge: boolean }): Promise<void> {
    const run = this.#updates.then(() => this.#refresh(options));
    this.#updates = run.catch(() => undefined);
    return run;
  }

  async #refresh(options: { sync: boolean; expunge: boolean }): Promise<void> {
    const folder = this.selected;
    if (!folder) return;
    const { writer } = this.conn;
    if (!options.sync && !folder.dirty) {
      if (options.expunge) folder.reportExpunges(writer);
      return;
    }
    folder.dirty = false;
    const snapshot = await this.store.sync(this.user, folder.name);
    if (this.selected !== folder) return;
    const user = this.user;
    folder.apply(
      snapshot,
      {
        expunge: options.expunge,
        condstore: this.condstore,
        claimRecent: (uids) => this.ctx.recent.claim(user, folder.name, snapshot.info.uidValidity, uids, folder.readOnly),
      },
      writer,
    );
  }

  /** A continuation request (`+ text`), sent at once. */
  async continuation(text: string): Promise<void> {
    this.conn.writer.line(`+ ${text}`);
    await this.conn.writer.flush();
  }

  /** The next line from the client (AUTHENTICATE responses, IDLE's DONE). */
  readLine(): Promise<LineResult> {
    return this.conn.reader.nextLine();
  }
}

const STATE_TEXT: Record<ImapState, string> = {
  'not-authenticated': 'before login',
  authenticated: 'without a selected mailbox',
  selected: 'with a selected mailbox',
  logout: 'while logging out',
};

/** A command name: an atom, upper-cased ("" when there is none). */
function readName(args: ArgReader): string {
  try {
    return args.atom('a command name').toUpperCase();
  } catch {
    return '';
  }
}
