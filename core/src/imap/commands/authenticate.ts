import { bad, no } from '../protocol/protocol-error.js';
import { NOT_AUTHENTICATED, ok, type CommandHandler } from './command.js';

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * AUTHENTICATE PLAIN (RFC 3501 6.2.2, RFC 4616), with the initial response on the command line
 * (SASL-IR, RFC 4959; "=" is an empty one) or after a "+" continuation; "*" cancels.
 */
export const authenticate: CommandHandler = {
  name: 'AUTHENTICATE',
  states: NOT_AUTHENTICATED,
  async run({ session, args }) {
    const mechanism = args.atom('a mechanism').toUpperCase();
    let response = args.more() ? args.atom('an initial response') : undefined;
    args.end();
    if (mechanism !== 'PLAIN') throw no('Unsupported authentication mechanism');
    const { guard } = session.ctx;
    const allowed = guard.mayLogin(session.mailbox);
    if (!allowed.ok) throw no(allowed.text, allowed.code);
    if (response === undefined) {
      await session.continuation('');
      const line = await session.readLine();
      if (line.kind === 'end') {
        session.state = 'logout';
        throw bad('Connection closed');
      }
      if (line.kind === 'too-long') {
        if (line.fatal) session.state = 'logout';
        throw bad('Response too long');
      }
      response = line.data.toString('latin1');
    }
    if (response === '*') throw bad('AUTHENTICATE cancelled');
    if (response !== '=' && !BASE64.test(response)) throw bad('Invalid base64');
    const fields = Buffer.from(response === '=' ? '' : response, 'base64').toString('utf8').split('\0');
    if (fields.length !== 3) throw bad('Invalid PLAIN response');
    const [authzid, authcid, password] = fields as [string, string, string];
    if (authzid !== '' && authzid.toLowerCase() !== authcid.toLowerCase()) return { status: 'NO', code: 'AUTHORIZATIONFAILED', text: 'Cannot log in as another user' };
    const result = await guard.login(session.mailbox, authcid, password, 'PLAIN');
    if (!result.ok) return { status: 'NO', code: result.code, text: result.text };
    session.authenticated();
    return ok('Logged in', `CAPABILITY ${session.capabilities().join(' ')}`);
  },
};
