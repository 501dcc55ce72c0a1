import type { SMTPServerAddress, SMTPServerSession } from 'smtp-server';
import { ErrorCode, isPosternError } from '../errors.js';
import { toEnvelopeAddress } from './envelope-address.js';
import type { SmtpContext } from './smtp-context.js';
import type { SmtpSessionState } from './session-state.js';
import { stateOf } from './session-state.js';
import { isRefusal, replyFor, smtpError, type SmtpReply } from './verdict-reply.js';

type Callback = (err?: Error | null) => void;

/**
 * The core's own recipient checks, which no plugin can skip: relay control (never an open relay),
 * unknown local recipients, and full mailboxes. Returns the refusal, or undefined to go on.
 */
async function coreRecipientCheck(ctx: SmtpContext, state: SmtpSessionState, address: string): Promise<SmtpReply | undefined> {
  if (!/^[^@\s]+@[^@\s]+$/.test(address)) {
    return { code: 501, enhanced: '5.1.3', message: 'Bad recipient address syntax' };
  }
  let resolution;
  try {
    resolution = await ctx.directory.resolve(address);
  } catch (err) {
    // An address literal, a malformed domain: permanent, not a 451 that makes the client retry.
    if (isPosternError(err, ErrorCode.INVALID_ADDRESS)) return { code: 501, enhanced: '5.1.3', message: 'Bad recipient address syntax' };
    throw err;
  }
  if (resolution.kind === 'remote') {
    if (state.user || state.trusted) return undefined;
    return { code: 554, enhanced: '5.7.1', message: 'Relay access denied' };
  }
  if (resolution.kind === 'unknown') {
    return { code: 550, enhanced: '5.1.1', message: 'Recipient address rejected: user unknown' };
  }
  // A declared SIZE (RFC 1870) lets us refuse a message that will not fit before it is sent.
  const declared = Number(state.transaction?.mailFrom.params.SIZE ?? 0) || 0;
  for (const mailbox of resolution.mailboxes) {
    const user = await ctx.directory.getUser(mailbox);
    if (user?.quotaBytes != null && (await ctx.directory.getUsage(mailbox)) + Math.max(declared, 1) > user.quotaBytes) {
      return { code: 452, enhanced: '4.2.2', message: 'Mailbox full, try again later' };
    }
  }
  return undefined;
}

/** RCPT TO: the core's checks first, then the `rcptTo` hook. */
export function onRcptTo(ctx: SmtpContext) {
  return (parsed: SMTPServerAddress, raw: SMTPServerSession, callback: Callback): void => {
    const state = stateOf(raw);
    const tx = state?.transaction;
    if (!state || !tx) return callback(smtpError({ code: 503, enhanced: '5.5.1', message: 'Need MAIL command' }));
    const recipient = toEnvelopeAddress(parsed);

    const run = async () => {
      const refusal = await coreRecipientCheck(ctx, state, recipient.address);
      if (refusal) {
        ctx.log.info({ queueId: tx.id, ip: state.remoteAddress, from: tx.mailFrom.address, to: recipient.address, reply: refusal }, 'recipient refused');
        return callback(smtpError(refusal));
      }
      const verdict = await state.pipeline.decide('rcptTo', state, tx, recipient);
      tx.note('rcptTo', verdict);
      if (isRefusal(verdict)) {
        ctx.log.info({ queueId: tx.id, ip: state.remoteAddress, to: recipient.address, verdict }, 'recipient refused by policy');
        return callback(smtpError(replyFor('rcptTo', verdict)));
      }
      // smtp-server lets a repeated RCPT TO replace the earlier one; keep one entry per address.
      const key = recipient.address.toLowerCase();
      if (!tx.recipients.some((r) => r.address.toLowerCase() === key)) tx.recipients.push(recipient);
      callback();
    };
    run().catch((err: unknown) => {
      ctx.log.error({ err, queueId: tx.id }, 'RCPT TO failed');
      callback(smtpError({ code: 451, enhanced: '4.3.0', message: 'Temporary local problem, try again later' }));
    });
  };
}
