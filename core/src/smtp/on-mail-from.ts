import type { SMTPServerAddress, SMTPServerSession } from 'smtp-server';
import { newQueueId } from '../util/queue-id.js';
import { toEnvelopeAddress } from './envelope-address.js';
import type { SmtpContext } from './smtp-context.js';
import { SmtpTransaction, stateOf } from './session-state.js';
import { isRefusal, replyFor, smtpError } from './verdict-reply.js';

type Callback = (err?: Error | null) => void;

/**
 * MAIL FROM: require AUTH where the listener says so, run the `helo` hook for a HELO name it has
 * not judged yet (smtp-server answers EHLO itself and has no callback for it, so the hook runs
 * here, at the first command that depends on it), open a transaction with a new queue id, then
 * ask the `mailFrom` hook.
 */
export function onMailFrom(ctx: SmtpContext) {
  return (parsed: SMTPServerAddress, raw: SMTPServerSession, callback: Callback): void => {
    const state = stateOf(raw);
    if (!state) return callback(smtpError({ code: 451, enhanced: '4.3.0', message: 'Temporary local problem' }));
    if (state.listenerConfig.auth === 'required' && !state.user) {
      return callback(smtpError({ code: 530, enhanced: '5.7.0', message: 'Authentication required' }));
    }

    const run = async () => {
      const helo = state.helo ?? '';
      if (state.heloChecked !== helo) {
        const verdict = await state.pipeline.decide('helo', state, helo);
        if (isRefusal(verdict)) {
          ctx.log.info({ ip: state.remoteAddress, helo, verdict }, 'greeting refused by policy');
          return callback(smtpError(replyFor('helo', verdict)));
        }
        state.heloChecked = helo;
      }
      const tx = new SmtpTransaction(newQueueId(), toEnvelopeAddress(parsed));
      state.transaction = tx;
      const verdict = await state.pipeline.decide('mailFrom', state, tx);
      tx.note('mailFrom', verdict);
      if (isRefusal(verdict)) {
        ctx.log.info(
          { queueId: tx.id, ip: state.remoteAddress, from: tx.mailFrom.address, verdicts: tx.verdicts, status: 'rejected', stage: 'mailFrom' },
          'transaction refused',
        );
        state.transaction = undefined;
        return callback(smtpError(replyFor('mailFrom', verdict)));
      }
      callback();
    };
    run().catch((err: unknown) => {
      ctx.log.error({ err, ip: state.remoteAddress }, 'MAIL FROM failed');
      callback(smtpError({ code: 451, enhanced: '4.3.0', message: 'Temporary local problem, try again later' }));
    });
  };
}
