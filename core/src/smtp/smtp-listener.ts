import type { AddressInfo } from 'node:net';
import type { SmtpListenerConfig } from '../config/types.js';
import { ErrorCode, PosternError } from '../errors.js';
import { onAuth } from './on-auth.js';
import { onClose, onConnect } from './on-connect.js';
import { onData } from './on-data.js';
import { onMailFrom } from './on-mail-from.js';
import { onRcptTo } from './on-rcpt-to.js';
import type { SmtpContext } from './smtp-context.js';
import { PosternSmtpServer } from './smtp-server-adapter.js';

export interface TlsMaterial {
  key: Buffer;
  cert: Buffer;
}

export interface RunningListener {
  name: string;
  address: AddressInfo;
  close(): Promise<void>;
}

/** Start one SMTP listener from its config entry. */
export async function startSmtpListener(ctx: SmtpContext, listener: SmtpListenerConfig, tls: TlsMaterial | undefined): Promise<RunningListener> {
  const { smtp, hostname } = ctx.config;
  if (listener.tls !== 'none' && !tls) {
    throw new PosternError(ErrorCode.TLS_UNAVAILABLE, `listener ${listener.name} needs TLS (${listener.tls}) but no key/certificate is configured; run postern init or set tls.key and tls.cert`);
  }
  const disabled: string[] = [];
  if (listener.tls !== 'starttls') disabled.push('STARTTLS');
  if (listener.auth === 'none') disabled.push('AUTH');

  const server = new PosternSmtpServer(
    {
      name: hostname,
      banner: smtp.banner,
      size: smtp.maxMessageSize,
      maxRecipients: smtp.maxRecipients,
      secure: listener.tls === 'implicit',
      ...(tls ? { key: tls.key, cert: tls.cert } : {}),
      disabledCommands: disabled,
      hideSTARTTLS: listener.tls !== 'starttls',
      authMethods: ['PLAIN', 'LOGIN'],
      authOptional: listener.auth !== 'required',
      allowInsecureAuth: smtp.allowInsecureAuth,
      hideENHANCEDSTATUSCODES: false,
      disableReverseLookup: true,
      logger: false,
      socketTimeout: smtp.socketTimeoutMs,
      closeTimeout: 30_000,
      ...(smtp.limits.maxConnections > 0 ? { maxClients: smtp.limits.maxConnections } : {}),
      onConnect: onConnect(ctx, listener),
      onClose: onClose(ctx),
      onAuth: onAuth(ctx),
      onMailFrom: onMailFrom(ctx),
      onRcptTo: onRcptTo(ctx),
      onData: onData(ctx),
    },
    listener.earlyTalkerDelayMs,
  );
  server.on('error', (err: Error) => ctx.log.warn({ err, listener: listener.name }, 'smtp connection error'));

  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error) => reject(new PosternError(ErrorCode.LISTEN_FAILED, `listener ${listener.name} cannot listen on ${listener.host}:${listener.port}: ${err.message}`, { listener: listener.name }, { cause: err }));
    server.server.once('error', onError);
    server.listen(listener.port, listener.host, () => {
      server.server.off('error', onError);
      resolve();
    });
  });
  const address = server.server.address() as AddressInfo;
  ctx.log.info({ listener: listener.name, host: address.address, port: address.port, tls: listener.tls, auth: listener.auth }, 'smtp listener ready');
  return {
    name: listener.name,
    address,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
