import { POSTERN_VERSION } from '../../version.js';
import { bad } from '../protocol/protocol-error.js';
import { ANY, ok, type CommandHandler } from './command.js';

/** ID (RFC 2971): the client's identification goes to the log; the server names itself. */
export const id: CommandHandler = {
  name: 'ID',
  states: ANY,
  async run({ session, args }) {
    let fields: Array<string | undefined> = [];
    if (!args.acceptWord('NIL')) fields = args.list(() => args.nstring('a field')?.toString('utf8'));
    args.end();
    if (fields.length % 2 !== 0 || fields.length > 60) throw bad('ID takes up to 30 field-value pairs');
    const client: Record<string, string | null> = {};
    for (let i = 0; i < fields.length; i += 2) {
      const key = fields[i];
      if (key === undefined || key.length > 30) throw bad('Bad ID field name');
      client[key.toLowerCase()] = fields[i + 1]?.slice(0, 1024) ?? null;
    }
    if (fields.length > 0) session.log.info({ client }, 'imap client id');
    session.conn.writer.line(`* ID ("name" "Postern" "version" "${POSTERN_VERSION}")`);
    return ok('ID completed');
  },
};
