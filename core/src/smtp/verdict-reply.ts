import type { PolicyHookName, Verdict } from '@postern/sdk';

/** An SMTP reply: code, RFC 3463 enhanced code, text. */
export interface SmtpReply {
  code: number;
  enhanced: string;
  message: string;
}

type Refusal = Exclude<Verdict['action'], 'accept' | 'quarantine' | 'discard'>;

/**
 * The reply for each refusing action at each stage, when the verdict does not set its own.
 * Codes follow RFC 5321 §4.2 (554 at connect, 550 for mailbox policy, 554 for a refused message)
 * and RFC 3463 (x.7.1: delivery not authorised; x.7.8: credentials; x.7.0: other security).
 */
const DEFAULTS: Record<PolicyHookName, Record<Refusal, SmtpReply>> = {
  connect: {
    reject: { code: 554, enhanced: '5.7.1', message: 'Connection refused' },
    tempfail: { code: 421, enhanced: '4.7.0', message: 'Service temporarily unavailable, try again later' },
    disconnect: { code: 421, enhanced: '4.7.0', message: 'Closing connection' },
  },
  helo: {
    reject: { code: 550, enhanced: '5.7.1', message: 'Greeting refused' },
    tempfail: { code: 451, enhanced: '4.7.1', message: 'Greeting deferred, try again later' },
    disconnect: { code: 421, enhanced: '4.7.0', message: 'Closing connection' },
  },
  auth: {
    reject: { code: 535, enhanced: '5.7.8', message: 'Authentication credentials invalid' },
    tempfail: { code: 454, enhanced: '4.7.0', message: 'Temporary authentication failure' },
    disconnect: { code: 421, enhanced: '4.7.0', message: 'Closing connection' },
  },
  mailFrom: {
    reject: { code: 550, enhanced: '5.7.1', message: 'Sender address rejected' },
    tempfail: { code: 451, enhanced: '4.7.1', message: 'Sender deferred, try again later' },
    disconnect: { code: 421, enhanced: '4.7.0', message: 'Closing connection' },
  },
  rcptTo: {
    reject: { code: 550, enhanced: '5.7.1', message: 'Recipient address rejected' },
    tempfail: { code: 451, enhanced: '4.7.1', message: 'Recipient deferred, try again later' },
    disconnect: { code: 421, enhanced: '4.7.0', message: 'Closing connection' },
  },
  data: {
    reject: { code: 554, enhanced: '5.7.1', message: 'Message rejected' },
    tempfail: { code: 451, enhanced: '4.7.1', message: 'Message deferred, try again later' },
    disconnect: { code: 421, enhanced: '4.7.0', message: 'Closing connection' },
  },
};

const CLASS: Record<Refusal, number> = { reject: 5, tempfail: 4, disconnect: 4 };

/**
 * The reply for a refusing verdict at a stage. A code or enhanced code of the wrong class for the
 * action (a "reject" with 451) is replaced by the default, so a plugin cannot make a permanent
 * refusal look temporary or the reverse. `disconnect` is always 421: smtp-server closes on it.
 */
export function replyFor(stage: PolicyHookName, verdict: Verdict): SmtpReply {
  const action = verdict.action as Refusal;
  const fallback = DEFAULTS[stage][action];
  const wantClass = CLASS[action];
  const code =
    action === 'disconnect' ? 421 : verdict.code !== undefined && Math.floor(verdict.code / 100) === wantClass ? verdict.code : fallback.code;
  const enhanced = verdict.enhanced?.startsWith(`${wantClass}.`) ? verdict.enhanced : fallback.enhanced;
  const message = sanitizeReplyText(verdict.message ?? fallback.message);
  return { code, enhanced, message };
}

export function isRefusal(verdict: Verdict | undefined): verdict is Verdict & { action: Refusal } {
  return verdict !== undefined && (verdict.action === 'reject' || verdict.action === 'tempfail' || verdict.action === 'disconnect');
}

/** Reply text never carries control characters (reply splitting) and stays on one short line. */
export function sanitizeReplyText(text: string): string {
  return text.replace(/[\x00-\x1f\x7f]+/g, ' ').slice(0, 400);
}

/** An Error that smtp-server turns into the reply (`responseCode`, text starting with the enhanced code). */
export function smtpError(reply: SmtpReply): Error & { responseCode: number } {
  const err = new Error(`${reply.enhanced} ${reply.message}`) as Error & { responseCode: number };
  err.responseCode = reply.code;
  return err;
}
