import { no } from '../protocol/protocol-error.js';
import { NOT_AUTHENTICATED, type CommandHandler } from './command.js';

/**
 * STARTTLS (RFC 3501 6.2.1): only on a STARTTLS listener, before TLS. The OK goes out in plain
 * text, then the handshake; anything the client pipelined after the command is dropped.
 */
export const starttls: CommandHandler = {
  name: 'STARTTLS',
  states: NOT_AUTHENTICATED,
  async run({ session, tag, args }) {
    args.end();
    const tls = session.ctx.tls;
    if (session.ctx.listener.tls !== 'starttls' || !tls) throw no('STARTTLS is not available on this port');
    if (session.conn.secure) throw no('TLS is already active');
    const { writer } = session.conn;
    writer.line(`${tag} OK Begin TLS negotiation now`);
    await writer.flush();
    session.mailbox.secure = true;
    session.conn.startTls(tls).catch((err: unknown) => {
      session.log.info({ err }, 'imap STARTTLS handshake failed');
      session.conn.destroy();
    });
    return { status: 'OK', text: '', answered: true };
  },
};
