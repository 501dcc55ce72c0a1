import type { Pop3Command } from '../command.js';
import { auth } from './auth.js';
import { capa } from './capa.js';
import { dele } from './dele.js';
import { list } from './list.js';
import { noop } from './noop.js';
import { pass } from './pass.js';
import { quit } from './quit.js';
import { retr } from './retr.js';
import { rset } from './rset.js';
import { stat } from './stat.js';
import { stls } from './stls.js';
import { top } from './top.js';
import { uidl } from './uidl.js';
import { user } from './user.js';

/**
 * Every command the server knows, by upper-case keyword. APOP is deliberately absent: it needs
 * the clear-text password on the server and MD5; it gets the unknown-command -ERR.
 */
export const COMMANDS: ReadonlyMap<string, Pop3Command> = new Map(
  [user, pass, auth, capa, stls, stat, list, uidl, top, retr, dele, rset, noop, quit].map((c) => [c.name, c]),
);
