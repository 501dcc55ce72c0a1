import { append } from './append.js';
import { authenticate } from './authenticate.js';
import { capability } from './capability.js';
import { check } from './check.js';
import { close } from './close.js';
import type { CommandHandler } from './command.js';
import { copy } from './copy.js';
import { create } from './create.js';
import { deleteCommand } from './delete.js';
import { enable } from './enable.js';
import { examine } from './examine.js';
import { expunge } from './expunge.js';
import { fetch } from './fetch.js';
import { getquota } from './getquota.js';
import { getquotaroot } from './getquotaroot.js';
import { id } from './id.js';
import { idle } from './idle.js';
import { list } from './list.js';
import { login } from './login.js';
import { logout } from './logout.js';
import { lsub } from './lsub.js';
import { move } from './move.js';
import { namespace } from './namespace.js';
import { noop } from './noop.js';
import { rename } from './rename.js';
import { search } from './search.js';
import { select } from './select.js';
import { setquota } from './setquota.js';
import { starttls } from './starttls.js';
import { status } from './status.js';
import { store } from './store.js';
import { subscribe } from './subscribe.js';
import { unselect } from './unselect.js';
import { unsubscribe } from './unsubscribe.js';

/** Every IMAP command, by name. `UID FETCH` etc. are the handlers marked `uid`. */
export const COMMANDS: ReadonlyMap<string, CommandHandler> = new Map(
  [
    capability,
    noop,
    logout,
    starttls,
    login,
    authenticate,
    id,
    enable,
    namespace,
    select,
    examine,
    create,
    deleteCommand,
    rename,
    subscribe,
    unsubscribe,
    list,
    lsub,
    status,
    append,
    check,
    close,
    unselect,
    expunge,
    search,
    fetch,
    store,
    copy,
    move,
    idle,
    getquota,
    getquotaroot,
    setquota,
  ].map((handler) => [handler.name, handler]),
);
