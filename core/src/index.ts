/**
 * @postern/core as a library: start a server from a config object, e.g. to embed Postern in a
 * test harness or another process. The CLI (`postern`) is the usual way in.
 * @example
 * import { loadConfig, startServer } from '@postern/core';
 * const server = await startServer(loadConfig('postern.yaml'));
 * // ...
 * await server.close();
 */
export { startServer, type RunningServer } from './server.js';
export { loadConfig, parseConfig } from './config/load-config.js';
export type { PosternConfig } from './config/types.js';
export { ErrorCode, PosternError, isPosternError } from './errors.js';
