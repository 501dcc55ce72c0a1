import type { SMTPServerAuthentication, SMTPServerAuthenticationResponse, SMTPServerSession } from 'smtp-server';
import type { SmtpContext } from './smtp-context.js';
import { stateOf } from './session-state.js';
import { isRefusal, replyFor, smtpError } from './verdict-reply.js';

type Callback = (err: Error | null | undefined, response?: SMTPServerAuthenticationResponse) => void;

/** Wait a little after a failed login: it costs a password guesser far more than a real user. */
const FAILED_LOGIN_DELAY_MS = 1000;

/**
 * AUTH PLAIN / LOGIN: refuse without TLS (unless allowInsecureAuth), check the password against
 * the directory, then let the `auth` hook veto a login that is otherwise valid.
 */
export function onAuth(ctx: SmtpContext) {
  return (auth: SMTPServerAuthentication, raw: SMTPServerSession, callback: Callback): void => {
    const state = stateOf(raw);
    if (!state) return callback(smtpError({ code: 454, enhanced: '4.3.0', message: 'Temporary local problem' }));
    if (!state.secure && !ctx.config.smtp.allowInsecureAuth) {
      return callback(smtpError({ code: 538, enhanced: '5.7.11', message: 'Encryption required for requested authentication mechanism' }));
    }
    const username = auth.username ?? '';
    const password = auth.password ?? '';
    const ip = raw.remoteAddress;

    const run = async () => {
      const user = username && password ? await ctx.directory.verifyPassword(username, password) : undefined;
      if (!user) {
        ctx.log.warn({ ip, username, method: auth.method, listener: state.listener }, 'authentication failed');
        await new Promise((resolve) => setTimeout(resolve, FAILED_LOGIN_DELAY_MS));
        return callback(smtpError({ code: 535, enhanced: '5.7.8', message: 'Authentication credentials invalid' }));
      }
      const verdict = await state.pipeline.decide('auth', state, { username: user.address, method: auth.method });
      if (isRefusal(verdict)) {
        ctx.log.warn({ ip, username: user.address, verdict }, 'authentication refused by policy');
        return callback(smtpError(replyFor('auth', verdict)));
      }
      ctx.log.info({ ip, username: user.address, method: auth.method, listener: state.listener }, 'authenticated');
      callback(null, { user: user.address });
    };
    run().catch((err: unknown) => {
      ctx.log.error({ err, ip }, 'authentication error');
      callback(smtpError({ code: 454, enhanced: '4.7.0', message: 'Temporary authentication failure' }));
    });
  };
}
