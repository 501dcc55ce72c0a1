import { no } from '../protocol/protocol-error.js';
import { AUTHENTICATED, type CommandHandler } from './command.js';

/** SETQUOTA (RFC 2087 4.1): quotas are the administrator's (`postern user`), never the user's. */
export const setquota: CommandHandler = {
  name: 'SETQUOTA',
  states: AUTHENTICATED,
  async run() {
    throw no('Quotas are set by the administrator', 'NOPERM');
  },
};
