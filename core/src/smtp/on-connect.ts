import type { SMTPServerSession } from 'smtp-server';
import type { SmtpListenerConfig } from '../config/types.js';
import type { SmtpContext } from './smtp-context.js';
import { attachState, SmtpSessionState, stateOf } from './session-state.js';
import { isRefusal, replyFor, smtpError } from './verdict-reply.js';

type Callback = (err?: Error | null) => void;

/**
 * A client connected (after the early-talker delay): apply the per-IP connection limit, fix the
 * plugin generation for this session, then ask the `connect` hook.
 */
export function onConnect(ctx: SmtpContext, listener: SmtpListenerConfig) {
  return (raw: SMTPServerSession, callback: Callback): void => {
    const ip = raw.remoteAddress;
    const state = new SmtpSessionState(raw, ctx.plugins.acquire(), listener, ctx.trustedNetworks.has(ip));
    attachState(raw, state);

    const limit = ctx.config.smtp.limits.connectionsPerIp;
    const open = ctx.connectionsByIp.get(ip) ?? 0;
    if (limit > 0 && open >= limit && !state.trusted) {
      ctx.log.warn({ ip, listener: listener.name, open, limit }, 'connection refused: too many connections from this address');
      callback(smtpError({ code: 421, enhanced: '4.7.0', message: 'Too many connections from your address, try again later' }));
      return;
    }
    ctx.connectionsByIp.set(ip, open + 1);
    state.counted = true;

    state.pipeline.decide('connect', state).then(
      (verdict) => {
        if (isRefusal(verdict)) {
          ctx.log.info({ ip, listener: listener.name, verdict }, 'connection refused by policy');
          callback(smtpError(replyFor('connect', verdict)));
          return;
        }
        callback();
      },
      (err: unknown) => {
        ctx.log.error({ err, ip }, 'connect hook failed');
        callback(smtpError({ code: 421, enhanced: '4.3.0', message: 'Temporary local problem, try again later' }));
      },
    );
  };
}

/** The connection closed: release its plugin generation and its slot in the per-IP count. */
export function onClose(ctx: SmtpContext) {
  return (raw: SMTPServerSession): void => {
    const state = stateOf(raw);
    state?.lease.release();
    if (!state?.counted) return;
    state.counted = false;
    const open = (ctx.connectionsByIp.get(raw.remoteAddress) ?? 1) - 1;
    if (open <= 0) ctx.connectionsByIp.delete(raw.remoteAddress);
    else ctx.connectionsByIp.set(raw.remoteAddress, open);
  };
}
