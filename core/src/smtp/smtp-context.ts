import type { Logger } from 'pino';
import type { PosternConfig } from '../config/types.js';
import type { Directory } from '../directory/directory.js';
import type { QueueRunner } from '../queue/queue-runner.js';
import type { PluginHost } from '../plugin-host/plugin-host.js';
import type { Spool } from '../spool/spool.js';
import type { NetworkList } from '../util/network-list.js';

/** What the SMTP handlers share: one per server, across listeners. */
export interface SmtpContext {
  config: PosternConfig;
  directory: Directory;
  log: Logger;
  /** The plugin generations; a new session leases the current one and keeps it to the end. */
  plugins: PluginHost;
  spool: Spool;
  deliveries: QueueRunner;
  trustedNetworks: NetworkList;
  /** Open connections per client IP (the connectionsPerIp limit). */
  connectionsByIp: Map<string, number>;
}
