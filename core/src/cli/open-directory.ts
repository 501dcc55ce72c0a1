/**
 * Admin commands open the directory for the length of one command and close it again, so they
 * can run next to a live server (SQLite WAL lets both write).
 */
import { loadDataDir } from '../config/load-config.js';
import { SqliteDirectory } from '../directory/sqlite-directory.js';
import { configPath } from './args.js';
import type { CliContext } from './command.js';

export async function withDirectory<T>(ctx: CliContext, configFlag: string | undefined, fn: (directory: SqliteDirectory) => Promise<T>): Promise<T> {
  const directory = SqliteDirectory.open(loadDataDir(configPath(ctx, configFlag)));
  try {
    return await fn(directory);
  } finally {
    await directory.close();
  }
}
