import { Stage, accept, definePlugin, reject } from '@postern/sdk';
import { compileNetworks } from './network-list.js';
import { defaults, validate } from './options.js';
import type { AccessOptions } from './options.js';
import { compileSenders } from './sender-list.js';

export type { AccessList, AccessOptions } from './options.js';

/** What the plugin records under `results.get('access')` when a client or sender is allowlisted. */
export interface AccessResult {
  allow: true;
  /** "network:<entry>" or "sender:<entry>", the entry as written in config. */
  match: string;
}

/**
 * Networks and senders whose mail is always accepted (allow) or always refused (deny).
 * A deny match always wins, whatever allow entry also matches: a deny list is the admin saying
 * "never", and an allowlisted network must not become a way around it.
 */
export default definePlugin<AccessOptions>({
  name: 'access',
  defaults,
  validate,
  setup(api) {
    const { allow, deny, denyMessage } = api.options;
    // Compiled once per plugin generation; a config reload builds a new one.
    const allowNetworks = compileNetworks(allow?.networks ?? []);
    const denyNetworks = compileNetworks(deny?.networks ?? []);
    const allowSenders = compileSenders(allow?.senders ?? []);
    const denySenders = compileSenders(deny?.senders ?? []);

    api.tap(
      'connect',
      (session) => {
        // The lists are about mail; IMAP/POP3 logins are not this plugin's business.
        if (session.protocol !== 'smtp') return undefined;
        const denied = denyNetworks.match(session.remoteAddress);
        if (denied !== undefined) {
          return reject(denyMessage, { code: 554, enhanced: '5.7.1', reason: `access: client in deny.networks ${denied}` });
        }
        const allowed = allowNetworks.match(session.remoteAddress);
        if (allowed === undefined) return undefined;
        session.results.set('access', { allow: true, match: `network:${allowed}` } satisfies AccessResult);
        return accept({ reason: `access: client in allow.networks ${allowed}` });
      },
      { stage: Stage.ACCESS },
    );

    api.tap(
      'mailFrom',
      (session, tx) => {
        const denied = denySenders.match(tx.mailFrom);
        if (denied !== undefined) {
          return reject(denyMessage, { code: 550, enhanced: '5.7.1', reason: `access: sender in deny.senders ${denied}` });
        }
        // Copy the connection's allow into the transaction so greylist, PTR and the like read one place.
        const sessionAllow = session.results.get<AccessResult>('access');
        if (sessionAllow?.allow === true) {
          tx.results.set('access', { ...sessionAllow });
          return accept({ reason: `access: ${sessionAllow.match}` });
        }
        const allowed = allowSenders.match(tx.mailFrom);
        if (allowed === undefined) return undefined;
        tx.results.set('access', { allow: true, match: `sender:${allowed}` } satisfies AccessResult);
        return accept({ reason: `access: sender in allow.senders ${allowed}` });
      },
      { stage: Stage.ACCESS },
    );
  },
});
