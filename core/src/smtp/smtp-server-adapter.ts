import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import { SMTPConnection } from 'smtp-server/lib/smtp-connection.js';
import type { Socket } from 'node:net';

/**
 * smtp-server does almost everything we want from an SMTP wire layer. Two of its behaviours are
 * fixed in code, and this subclass is the one place where we change them:
 *
 * 1. The greeting waits a hard-coded 100 ms (an early-talker check) on every connection. That is
 *    right for MX but costs a submission client a tenth of a second per connection (RECIPES: 1000
 *    one-message connections took 5.4 s vs 0.38 s for smtp-sink). We make it `earlyTalkerDelayMs`.
 * 2. With ENHANCEDSTATUSCODES on, it derives the enhanced code from the reply code alone (550 is
 *    always 5.1.1, even for a policy refusal that should say 5.7.1). Our handlers put the right
 *    enhanced code at the start of the text; when they do, we tell smtp-server not to add its own.
 *
 * Both reach into private methods (`_setListeners`, `connectionReady`); the version is pinned in
 * package.json and `assertCompatible()` fails at start-up, loudly, if a new version moved them.
 */

const ENHANCED_PREFIX = /^[245]\.\d{1,3}\.\d{1,3} /;

interface ConnectionInternals {
  _setListeners(callback: () => void): void;
  connectionReady(): void;
  send(code: number, data: unknown, context?: unknown): void;
  init(): void;
  on(event: string, listener: (arg: unknown) => void): void;
}

interface ServerInternals {
  connections: Set<unknown>;
  _onError(err: unknown): void;
  _onClientConnect(data: unknown): void;
}

export function assertCompatible(): void {
  const proto = SMTPConnection.prototype as unknown as Partial<ConnectionInternals>;
  for (const method of ['_setListeners', 'connectionReady', 'send', 'init'] as const) {
    if (typeof proto[method] !== 'function') {
      throw new Error(`smtp-server internals changed (SMTPConnection.${method} missing); check core/src/smtp/smtp-server-adapter.ts`);
    }
  }
}

export class PosternSmtpServer extends SMTPServer {
  readonly #greetingDelayMs: number;

  constructor(options: SMTPServerOptions, greetingDelayMs: number) {
    super(options);
    this.#greetingDelayMs = greetingDelayMs;
  }

  // Replaces SMTPServer#connect (see the file comment): same steps, configurable greeting delay.
  override connect(socket: Socket, socketOptions: ConstructorParameters<typeof SMTPConnection>[2]): void {
    const self = this as unknown as ServerInternals & { options: SMTPServerOptions };
    const connection = new SMTPConnection(this, socket, socketOptions) as unknown as ConnectionInternals;
    self.connections.add(connection);
    connection.on('error', (err) => self._onError(err));
    connection.on('connect', (data) => self._onClientConnect(data));

    const send = connection.send.bind(connection);
    connection.send = (code, data, context) =>
      send(code, data, typeof data === 'string' && ENHANCED_PREFIX.test(data) ? false : context);

    const delay = this.#greetingDelayMs;
    connection._setListeners(() => {
      const maxClients = self.options.maxClients;
      if (maxClients && self.connections.size > maxClients) {
        connection.send(421, `${self.options.name} 4.7.0 Too many connected clients, try again in a moment`, false);
        return;
      }
      if (delay > 0) setTimeout(() => connection.connectionReady(), delay).unref();
      else connection.connectionReady();
    });
  }
}
