import { pino, type Logger } from 'pino';
import type { PosternConfig } from './config/types.js';

/**
 * The server's structured logger: JSON lines on stdout. Every line about a message carries its
 * `queueId`, so `grep <id>` follows a message from the SMTP transaction to its delivery.
 */
export function createLogger(config: Pick<PosternConfig, 'log'>): Logger {
  return pino({ level: config.log.level, base: { service: 'postern' } });
}
