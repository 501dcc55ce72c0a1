import { destination, pino, type Logger } from 'pino';
import type { PosternConfig } from './config/types.js';

/**
 * The server's structured logger: JSON lines on stdout. Every line about a message carries its
 * `queueId`, so `grep <id>` follows a message from the SMTP transaction to its delivery.
 *
 * Writes are asynchronous (sonic-boom): a busy server logs several lines per message, and a
 * synchronous write(2) each would stall the event loop whenever stdout is slow. pino flushes
 * what is buffered when the process exits.
 */
export function createLogger(config: Pick<PosternConfig, 'log'>): Logger {
  return pino({ level: config.log.level, base: { service: 'postern' } }, destination({ dest: 1, sync: false }));
}
