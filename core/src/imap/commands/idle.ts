import { bad } from '../protocol/protocol-error.js';
import { AUTHENTICATED, ok, type CommandHandler } from './command.js';

/**
 * IDLE (RFC 2177): "+ idling", then changes to the selected folder are sent as the store
 * reports them (EXISTS within moments of a delivery), until the client sends DONE.
 */
export const idle: CommandHandler = {
  name: 'IDLE',
  states: AUTHENTICATED,
  async run({ session, args }) {
    args.end();
    await session.continuation('idling');
    const { writer } = session.conn;
    const push = () =>
      session
        .sendUpdates({ sync: false, expunge: true })
        .then(() => writer.flush())
        .catch((err: unknown) => session.log.warn({ err }, 'cannot report changes during IDLE'));
    const stop = session.onFolderChange(() => void push());
    try {
      if (session.selected) {
        await session.sendUpdates({ sync: true, expunge: true });
        await writer.flush();
      }
      const line = await session.readLine();
      if (line.kind === 'end') {
        session.state = 'logout';
        return ok('IDLE terminated');
      }
      if (line.kind === 'too-long') {
        if (line.fatal) session.state = 'logout';
        throw bad('Expected DONE');
      }
      if (line.data.toString('latin1').toUpperCase() !== 'DONE') throw bad('Expected DONE');
      return ok('IDLE terminated');
    } finally {
      stop();
    }
  },
};
