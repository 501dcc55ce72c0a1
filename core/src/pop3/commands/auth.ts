import type { Pop3Command } from '../command.js';
import { RespCode, refusalText } from '../response-codes.js';
import { textBody } from '../multiline.js';
import { words } from './arguments.js';
import { openMaildrop } from './open-maildrop.js';

/** The SASL mechanisms AUTH accepts. */
export const SASL_MECHANISMS = ['PLAIN'] as const;

/**
 * AUTH mechanism [initial-response] (RFC 5034), PLAIN only (RFC 4616): the response is
 * base64(authzid NUL authcid NUL password), given on the command line or after a `+ ` challenge;
 * "=" is an empty initial response, "*" cancels. An authorization identity other than the login
 * itself is refused (no proxy logins). AUTH without a mechanism lists the mechanisms, as older
 * clients expect.
 */
export const auth: Pop3Command = {
  name: 'AUTH',
  states: ['authorization'],
  async run(conn, args) {
    const [mechanism, initial, extra] = words(args);
    if (mechanism === undefined) return conn.multiline('SASL mechanisms follow', textBody([...SASL_MECHANISMS]));
    if (extra !== undefined) return conn.bad('Too many arguments');
    if (mechanism.toUpperCase() !== 'PLAIN') return conn.err(`Unsupported mechanism ${mechanism.slice(0, 20)}`);
    const allowed = conn.guard.mayLogin(conn.session);
    if (!allowed.ok) return conn.err(refusalText(allowed));

    let response = initial;
    if (response === undefined) {
      await conn.challenge('');
      response = await conn.readLine();
      if (response === undefined) return conn.err('Authentication cancelled');
      response = response.trim();
    }
    if (response === '*') return conn.err('Authentication cancelled');
    const credentials = decodePlain(response === '=' ? '' : response);
    if (!credentials) return conn.err(`[${RespCode.AUTH}] Malformed PLAIN response`);
    if (credentials.authzid !== '' && credentials.authzid.toLowerCase() !== credentials.authcid.toLowerCase()) {
      return conn.err(`[${RespCode.AUTH}] Logging in as another user is not supported`);
    }
    return openMaildrop(conn, credentials.authcid, credentials.password, 'PLAIN');
  },
};

/** base64 "authzid NUL authcid NUL password" → its parts, or undefined when malformed. */
export function decodePlain(response: string): { authzid: string; authcid: string; password: string } | undefined {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(response) || response.length % 4 !== 0) return undefined;
  const parts = Buffer.from(response, 'base64').toString('utf8').split('\0');
  if (parts.length !== 3) return undefined;
  const [authzid, authcid, password] = parts as [string, string, string];
  if (authcid === '' || password === '') return undefined;
  return { authzid, authcid, password };
}
