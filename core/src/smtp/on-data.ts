import type { Verdict } from '@postern/sdk';
import type { SMTPServerDataStream, SMTPServerSession } from 'smtp-server';
import type { SpoolEnvelope } from '../spool/spool.js';
import { authResultsHeader, stripForgedAuthResults } from './auth-results-header.js';
import { findBareLineEnding } from './line-endings.js';
import { receivedHeader } from './received-header.js';
import type { SmtpContext } from './smtp-context.js';
import { stateOf, type SmtpSessionState, type SmtpTransaction } from './session-state.js';
import { isRefusal, replyFor, smtpError, type SmtpReply } from './verdict-reply.js';

type Callback = (err: Error | null | undefined, message?: string) => void;

/** Read the DATA stream into memory, keeping at most `limit` bytes (smtp-server flags the excess). */
async function readMessage(stream: SMTPServerDataStream, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    if (size + chunk.length <= limit) chunks.push(chunk);
    size += chunk.length;
  }
  return Buffer.concat(chunks, Math.min(size, limit));
}

/** JSON-safe copy of what plugins recorded; anything that cannot be serialised is dropped. */
function resultsForSpool(state: SmtpSessionState, tx: SmtpTransaction): Record<string, unknown> {
  try {
    return JSON.parse(JSON.stringify({ ...state.results.toJSON(), ...tx.results.toJSON() })) as Record<string, unknown>;
  } catch {
    return {};
  }
}

/**
 * End of DATA: check size and line endings, ask the `data` hook, then spool (fsync'd) and only
 * then reply 250 with the queue id. Delivery starts after the reply.
 */
export function onData(ctx: SmtpContext) {
  const maxSize = ctx.config.smtp.maxMessageSize;
  return (stream: SMTPServerDataStream, raw: SMTPServerSession, callback: Callback): void => {
    const state = stateOf(raw);
    const tx = state?.transaction;
    const started = performance.now();

    const finish = (status: string, reply: SmtpReply | undefined, size: number) => {
      if (state && tx) {
        ctx.log.info(
          {
            queueId: tx.id,
            ip: state.remoteAddress,
            listener: state.listener,
            user: state.user,
            from: tx.mailFrom.address,
            to: tx.recipients.map((r) => r.address),
            size,
            verdicts: tx.verdicts,
            status,
            reply: reply ? `${reply.code} ${reply.enhanced} ${reply.message}` : undefined,
            ms: Math.round(performance.now() - started),
          },
          'smtp transaction',
        );
        state.transaction = undefined;
      }
      if (reply) callback(smtpError(reply));
    };

    const run = async () => {
      const message = await readMessage(stream, maxSize);
      if (!state || !tx) return callback(smtpError({ code: 503, enhanced: '5.5.1', message: 'Need MAIL and RCPT commands' }));
      if (stream.sizeExceeded) {
        return finish('rejected', { code: 552, enhanced: '5.3.4', message: `Message size exceeds fixed maximum message size (${maxSize} bytes)` }, stream.byteLength);
      }
      if (findBareLineEnding(message) !== -1) {
        return finish('rejected', { code: 554, enhanced: '5.6.0', message: 'Message contains a bare CR or LF; lines must end with CRLF (RFC 5321 2.3.8)' }, message.length);
      }
      const stripped = stripForgedAuthResults(message, ctx.config.hostname);
      if (stripped.removed > 0) ctx.log.info({ queueId: tx.id, removed: stripped.removed }, 'removed Authentication-Results headers that claimed this server');
      tx.message = stripped.message;
      tx.inDataHook = true;
      let verdict: Verdict | undefined;
      try {
        verdict = (await state.pipeline.decide('data', state, tx)) ?? tx.heldQuarantine;
      } finally {
        tx.inDataHook = false;
      }
      tx.note('data', verdict);
      if (isRefusal(verdict)) return finish('rejected', replyFor('data', verdict), message.length);
      if (verdict?.action === 'discard') {
        finish('discarded', undefined, message.length);
        return callback(null, `2.0.0 Ok: queued as ${tx.id}`);
      }
      if (verdict?.action === 'quarantine') tx.folder = verdict.folder ?? 'Junk';

      const receivedAt = Date.now();
      const recipients = tx.recipients.map((r) => r.address);
      // Top down: our Authentication-Results, what plugins added (DKIM-Signature last, as signed), Received.
      const prefix =
        authResultsHeader(ctx.config.hostname, tx.authResults) +
        tx.addedHeaders.map(([name, value]) => `${name}: ${value}\r\n`).join('') +
        receivedHeader(state, ctx.config.hostname, tx.id, recipients, new Date(receivedAt));
      const full = Buffer.concat([Buffer.from(prefix, 'utf8'), tx.message]);
      const envelope: SpoolEnvelope = {
        id: tx.id,
        sender: tx.mailFrom.address,
        recipients,
        receivedAt,
        client: { ip: state.remoteAddress, listener: state.listener, ...(state.helo ? { helo: state.helo } : {}), ...(state.user ? { user: state.user } : {}) },
        results: resultsForSpool(state, tx),
        ...(tx.folder ? { folder: tx.folder } : {}),
      };
      try {
        await ctx.spool.store(envelope, full);
      } catch (err) {
        ctx.log.error({ err, queueId: tx.id }, 'spool write failed');
        return finish('tempfailed', { code: 451, enhanced: '4.3.0', message: 'Temporary local problem, try again later' }, message.length);
      }
      finish(tx.folder ? 'quarantined' : 'queued', undefined, full.length);
      callback(null, `2.0.0 Ok: queued as ${tx.id}`);
      ctx.deliveries.submit(envelope, full);
    };
    run().catch((err: unknown) => {
      ctx.log.error({ err, queueId: tx?.id }, 'DATA failed');
      stream.resume();
      callback(smtpError({ code: 451, enhanced: '4.3.0', message: 'Temporary local problem, try again later' }));
    });
  };
}
