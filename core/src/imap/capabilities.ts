/**
 * The CAPABILITY list. Before login it also says how to log in: STARTTLS while the connection
 * is plain on a STARTTLS listener, and AUTH=PLAIN only where a login may be tried (else
 * LOGINDISABLED, RFC 3501 6.2.3).
 */
const ALWAYS = ['IMAP4rev1', 'LITERAL+', 'SASL-IR', 'ID', 'ENABLE', 'IDLE', 'NAMESPACE', 'UIDPLUS', 'MOVE', 'CONDSTORE', 'UNSELECT', 'SPECIAL-USE', 'QUOTA'];

export function capabilities(state: { authenticated: boolean; secure: boolean; starttls: boolean; allowInsecureAuth: boolean }): string[] {
  if (state.authenticated) return ALWAYS;
  const caps = [...ALWAYS];
  if (state.starttls && !state.secure) caps.push('STARTTLS');
  if (state.secure || state.allowInsecureAuth) caps.push('AUTH=PLAIN');
  else caps.push('LOGINDISABLED');
  return caps;
}
