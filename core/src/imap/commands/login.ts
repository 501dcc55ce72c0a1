import { no } from '../protocol/protocol-error.js';
import { NOT_AUTHENTICATED, ok, type CommandHandler } from './command.js';

/**
 * LOGIN (RFC 3501 6.2.3). The SessionGuard decides: TLS first (NO [PRIVACYREQUIRED] unless
 * imap.allowInsecureAuth), the password, the failure delay and per-address limit, the `auth` hook.
 */
export const login: CommandHandler = {
  name: 'LOGIN',
  states: NOT_AUTHENTICATED,
  async run({ session, args }) {
    const username = args.astringText('a user name');
    args.sp();
    const password = args.astringText('a password');
    args.end();
    const { guard } = session.ctx;
    const allowed = guard.mayLogin(session.mailbox);
    if (!allowed.ok) throw no(allowed.text, allowed.code);
    const result = await guard.login(session.mailbox, username, password, 'LOGIN');
    if (!result.ok) return { status: 'NO', code: result.code, text: result.text };
    session.authenticated();
    return ok('Logged in', `CAPABILITY ${session.capabilities().join(' ')}`);
  },
};
