import { MailStoreError } from '../mailstore/mail-store.js';
import type { ImapSession } from './imap-session.js';
import { headerBounds } from './mime/header.js';
import { matches, matchesContent, needsBody, needsContent, type SearchKey, type SearchSubject } from './mime/search.js';

/** Messages read ahead while a search needs their content. */
const READ_AHEAD = 16;

/**
 * Evaluate a SEARCH key over the selected folder: the matching messages' positions (0-based,
 * ascending). Content is read only when the key needs it, a window of reads ahead; a key that
 * reads only header fields (FROM, SUBJECT, HEADER, SENT*) gets the header block from the
 * message cache when it is there, and leaves it there for the next search.
 */
export async function searchFolder(session: ImapSession, key: SearchKey): Promise<number[]> {
  const folder = session.folder;
  const user = session.user;
  const uids = folder.uids.slice();
  const content = needsContent(key);
  const headerOnly = content && !needsBody(key);
  const cache = session.ctx.cache.folder(user, folder.name, folder.info.uidValidity);
  const reads: Array<Promise<Buffer> | undefined> = [];
  let started = 0;
  const load = (uid: number): Promise<Buffer> => {
    const p = session.store.read(user, folder.name, uid).then((raw) => {
      cache.setHeader(uid, raw, headerBounds(raw).bodyStart);
      return raw;
    });
    p.catch(() => undefined); // awaited (or not) by the matcher; a failure is handled there
    return p;
  };
  const read = (k: number): Promise<Buffer> => {
    if (headerOnly) {
      const header = cache.header(uids[k]!);
      if (header) return Promise.resolve(header);
    }
    while (started < uids.length && started < k + READ_AHEAD) {
      if (!(headerOnly && cache.header(uids[started]!))) reads[started] = load(uids[started]!);
      started++;
    }
    return reads[k] ?? load(uids[k]!);
  };
  const hits: number[] = [];
  for (let k = 0; k < uids.length; k++) {
    const uid = uids[k]!;
    const message = folder.message(uid);
    if (!message) continue;
    const subject: SearchSubject = {
      seq: k + 1,
      uid,
      flags: message.flags,
      recent: folder.isRecent(uid),
      internalDate: message.internalDate,
      size: message.size,
      modseq: message.modseq,
      raw: () => read(k),
    };
    // A header-only key over a cached header block needs no await: the common case of a repeated search.
    const cached = headerOnly ? cache.header(uid) : undefined;
    if (cached) {
      if (matchesContent(key, subject, cached)) hits.push(k);
      continue;
    }
    try {
      if (await matches(key, subject)) hits.push(k);
    } catch (err) {
      // Expunged by another session meanwhile: it matches nothing.
      if (!(err instanceof MailStoreError && err.code === 'NO_SUCH_MESSAGE')) throw err;
    }
    reads[k] = undefined;
  }
  return hits;
}
