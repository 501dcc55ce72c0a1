/**
 * Every schema change, in order. To add tables (queue, mailbox index, plugin key-value store),
 * write a new file `NNN-what.ts` and append it here with the next version; never edit or reorder
 * a migration that has shipped, since databases in the field have already applied it.
 */
import type { Migration } from '../migrate.js';
import { directoryTables } from './001-directory.js';
import { pluginKvTable } from './002-plugin-kv.js';
import { queueTables } from './003-queue.js';
import { mailIndexTables } from './004-mail-index.js';

export const MIGRATIONS: readonly Migration[] = [directoryTables, pluginKvTable, queueTables, mailIndexTables];
