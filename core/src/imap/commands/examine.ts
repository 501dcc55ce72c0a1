import { selectCommand } from './select.js';

/** EXAMINE (RFC 3501 6.3.2): SELECT, read-only; \Recent is not taken from other sessions. */
export const examine = selectCommand('EXAMINE', true);
