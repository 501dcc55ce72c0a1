import { closeSession, type SmtpSession } from './smtp-send.js';

interface Idle {
  session: SmtpSession;
  timer: NodeJS.Timeout;
}

/**
 * Idle SMTP sessions kept for the next message to the same target (address, port, TLS mode and
 * login), like Postfix's connection cache: a busy destination does not pay a TCP handshake,
 * greeting, EHLO and STARTTLS for every message. A session idles at most `idleMs` and carries at
 * most `maxUses` transactions; broken ones are never kept. Idle sessions do not count against
 * the connection limits (at most `maxIdlePerTarget` wait per target).
 */
export class SessionCache {
  readonly #idle = new Map<string, Idle[]>();
  readonly #idleMs: number;
  readonly #maxUses: number;
  readonly #maxIdlePerTarget: number;

  constructor(options: { idleMs?: number; maxUses?: number; maxIdlePerTarget?: number } = {}) {
    this.#idleMs = options.idleMs ?? 2000;
    this.#maxUses = options.maxUses ?? 100;
    this.#maxIdlePerTarget = options.maxIdlePerTarget ?? 10;
  }

  /** An idle session to `key`, if one is waiting (most recently used first). */
  take(key: string): SmtpSession | undefined {
    const list = this.#idle.get(key);
    const idle = list?.pop();
    if (list && list.length === 0) this.#idle.delete(key);
    if (!idle) return undefined;
    clearTimeout(idle.timer);
    return idle.session.broken ? this.take(key) : idle.session;
  }

  /** Done with `session`: keep it for the next message, or close it. */
  put(key: string, session: SmtpSession): void {
    const list = this.#idle.get(key) ?? [];
    if (session.broken || session.uses >= this.#maxUses || list.length >= this.#maxIdlePerTarget || this.#idleMs === 0) {
      closeSession(session);
      return;
    }
    const idle: Idle = {
      session,
      timer: setTimeout(() => {
        const current = this.#idle.get(key);
        const at = current?.indexOf(idle) ?? -1;
        if (current && at >= 0) current.splice(at, 1);
        if (current?.length === 0) this.#idle.delete(key);
        closeSession(session);
      }, this.#idleMs),
    };
    idle.timer.unref();
    list.push(idle);
    this.#idle.set(key, list);
  }

  /** Close every idle session (shutdown). */
  closeAll(): void {
    for (const list of this.#idle.values()) {
      for (const idle of list) {
        clearTimeout(idle.timer);
        closeSession(idle.session);
      }
    }
    this.#idle.clear();
  }
}
