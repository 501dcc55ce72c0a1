import { MailStoreError, type MailStoreErrorCode } from '../mailstore/mail-store.js';
import type { Completion } from './commands/command.js';
import { no } from './protocol/protocol-error.js';
import { safeText } from './protocol/response-format.js';

/** The RFC 5530 response code for each refusal of the store. */
const CODES: Record<MailStoreErrorCode, string> = {
  BAD_NAME: 'CANNOT',
  NO_SUCH_FOLDER: 'NONEXISTENT',
  FOLDER_EXISTS: 'ALREADYEXISTS',
  CANNOT: 'CANNOT',
  NO_SUCH_MESSAGE: 'EXPUNGEISSUED',
  OVER_QUOTA: 'OVERQUOTA',
};

/** A store refusal as `NO [code] text`. */
export function storeRefusal(err: MailStoreError): Completion {
  return { status: 'NO', code: CODES[err.code] ?? 'CANNOT', text: safeText(err.message) };
}

/**
 * For the target of APPEND, COPY and MOVE a missing folder is `NO [TRYCREATE]` (RFC 3501
 * 6.3.11): `catch (err) { throw tryCreate(err); }`.
 */
export function tryCreate(err: unknown): unknown {
  if (err instanceof MailStoreError && err.code === 'NO_SUCH_FOLDER') return no(safeText(err.message), 'TRYCREATE');
  return err;
}
