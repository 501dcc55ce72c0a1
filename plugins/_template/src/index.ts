/**
 * my-plugin: refuses mail to local parts that must never receive any (noreply@, donotreply@...).
 *
 * Copy this folder to start a plugin: rename it, then `name` in package.json and in the
 * `postern` manifest, and the `name` below (they must match). Postern compiles this TypeScript
 * with esbuild when it loads the plugin; no build step of your own is needed.
 */
import { definePlugin, reject, Stage } from '@postern/sdk';

export interface MyPluginOptions {
  /** Local parts (before the @) that never receive mail here. */
  blockedLocalParts: string[];
}

export default definePlugin<MyPluginOptions>({
  name: 'my-plugin',
  // Keep these equal to the `default`s of the manifest's options schema.
  defaults: { blockedLocalParts: ['noreply'] },
  validate(options) {
    return options.blockedLocalParts.every((p) => !p.includes('@')) ? [] : ['blockedLocalParts: give local parts, without "@"'];
  },
  setup(api) {
    // Work done once per load, not per message: a Set of lower-cased local parts.
    const blocked = new Set(api.options.blockedLocalParts.map((p) => p.toLowerCase()));
    api.tap(
      'rcptTo',
      (_session, tx, recipient) => {
        const local = recipient.address.slice(0, recipient.address.lastIndexOf('@')).toLowerCase();
        if (!blocked.has(local)) return undefined;
        tx.results.set('my-plugin', { blocked: recipient.address });
        // `message` is what the sender sees; `reason` only goes to the log.
        return reject('This address does not receive mail', { code: 550, enhanced: '5.1.1', reason: `blocked local part ${local}` });
      },
      { stage: Stage.EARLY },
    );
  },
});
