import { join } from 'node:path';

/**
 * Files a running server keeps in its dataDir so the CLI (another process) can find and signal
 * it: the pid (SIGHUP = reload plugins) and the plugin status (serving generation, last error).
 */
export const runtimeFiles = (dataDir: string) => ({
  pid: join(dataDir, 'postern.pid'),
  pluginStatus: join(dataDir, 'plugin-status.json'),
});
