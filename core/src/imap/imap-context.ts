import type { MailboxListenerConfig } from '../config/types.js';
import type { MailboxServerContext } from '../mailstore/mailbox-server-context.js';
import type { SessionGuard } from '../mailstore/session-guard.js';
import type { TlsMaterial } from '../smtp/smtp-listener.js';
import type { MessageCache } from './message-cache.js';
import type { RecentTracker } from './recent-tracker.js';

/** What every IMAP session of one listener shares. */
export interface ImapContext {
  mail: MailboxServerContext;
  /** One guard for all IMAP listeners: connection limits and login failures count across them. */
  guard: SessionGuard;
  recent: RecentTracker;
  /** ENVELOPE / BODYSTRUCTURE / BODY of messages already fetched. */
  cache: MessageCache;
  listener: MailboxListenerConfig;
  tls: TlsMaterial | undefined;
}
