import { format } from 'node:util';
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

/**
 * Send what dependencies and plugins print with `console.*` into the structured log (at the
 * matching level, `source: "console"`), so stdout stays one JSON object per line: mailauth 4, for
 * one, prints a bare "TOTAL … EXPECTING …" line for DKIM signatures with `l=`. For the server
 * process only (the CLI's own output goes to its streams, not to console).
 */
export function captureConsole(log: Logger): void {
  const to = (level: 'debug' | 'info' | 'warn' | 'error') => (...args: unknown[]) => log[level]({ source: 'console' }, format(...args));
  console.log = to('info');
  console.info = to('info');
  console.debug = to('debug');
  console.warn = to('warn');
  console.error = to('error');
}
