import type { Pop3Command } from '../command.js';
import { textBody } from '../multiline.js';
import { SASL_MECHANISMS } from './auth.js';

/**
 * CAPA (RFC 2449 §5), in both states. USER and SASL are only listed when a login may be tried on
 * this connection now (after TLS, or with allowInsecureAuth), as RFC 2595 §4 wants for clear-text
 * logins; STLS only on a STARTTLS listener before TLS.
 */
export const capa: Pop3Command = {
  name: 'CAPA',
  states: ['authorization', 'transaction'],
  async run(conn, args) {
    if (args.trim() !== '') return conn.bad('CAPA takes no arguments');
    const loginAllowed = conn.state === 'authorization' && conn.guard.mayLogin(conn.session).ok;
    const lines = [
      'TOP',
      ...(loginAllowed ? ['USER', `SASL ${SASL_MECHANISMS.join(' ')}`] : []),
      'UIDL',
      'RESP-CODES',
      'AUTH-RESP-CODE',
      'PIPELINING',
      'EXPIRE NEVER',
      ...(conn.canStartTls ? ['STLS'] : []),
      'IMPLEMENTATION Postern',
    ];
    return conn.multiline('Capability list follows', textBody(lines));
  },
};
