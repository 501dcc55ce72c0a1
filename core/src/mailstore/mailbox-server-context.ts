import type { Logger } from 'pino';
import type { PosternConfig } from '../config/types.js';
import type { Directory } from '../directory/directory.js';
import type { PluginHost } from '../plugin-host/plugin-host.js';
import type { MailStore } from './mail-store.js';

/** What the IMAP and POP3 servers get from the core. */
export interface MailboxServerContext {
  config: PosternConfig;
  /** Logins (verifyPassword), quotas. */
  directory: Directory;
  store: MailStore;
  /** `connect` and `auth` hooks run on the generation current when the connection starts. */
  plugins: PluginHost;
  log: Logger;
}
