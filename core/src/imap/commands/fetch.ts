import { writeFetchResponses } from '../fetch-responder.js';
import { selectIndexes } from '../message-set.js';
import { parseFetchRequest } from '../protocol/fetch-attributes.js';
import { SELECTED, ok, type CommandHandler } from './command.js';

/**
 * FETCH / UID FETCH (RFC 3501 6.4.5, 6.4.8; MODSEQ and CHANGEDSINCE from RFC 7162). A message
 * expunged by another session meanwhile is left out and the command ends `OK [EXPUNGEISSUED]`.
 */
export const fetch: CommandHandler = {
  name: 'FETCH',
  states: SELECTED,
  uid: true,
  holdsExpunges: true,
  async run({ session, args, uid }) {
    const setText = args.sequenceSetText();
    args.sp();
    const request = parseFetchRequest(args);
    args.end();
    const indexes = selectIndexes(session.folder, setText, uid);
    const { expungeIssued } = await writeFetchResponses(session, indexes, request, { uid });
    return expungeIssued ? ok('Some messages were expunged meanwhile', 'EXPUNGEISSUED') : ok('FETCH completed');
  },
};
