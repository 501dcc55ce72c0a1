import { MailStoreError, type StoredMessage } from '../mailstore/mail-store.js';
import type { ImapSession } from './imap-session.js';
import type { CachedItem, FolderCache } from './message-cache.js';
import { bodySection, headerFieldsSection, partial } from './mime/body-section.js';
import { imapBodyStructure } from './mime/bodystructure.js';
import { imapEnvelopeFromHeader } from './mime/envelope.js';
import { headerBounds } from './mime/header.js';
import { parseMime, type MimePart } from './mime/mime-tree.js';
import { formatInternalDate } from './protocol/date-time.js';
import type { FetchItem, FetchRequest, SectionItem } from './protocol/fetch-attributes.js';
import { flagList } from './protocol/response-format.js';

/** Messages read ahead of the one being written (bounded: memory and open files). */
const READ_AHEAD = 32;

/**
 * Writes the FETCH responses for messages of the selected folder (0-based positions,
 * ascending). Metadata comes from the view; ENVELOPE / BODYSTRUCTURE / BODY come from the
 * message cache when they can; message bytes are read only when something still needs them,
 * a window of reads ahead; output goes out in large chunks, with backpressure. Returns whether
 * some message could not be read because it was expunged meanwhile.
 */
export async function writeFetchResponses(session: ImapSession, indexes: readonly number[], request: FetchRequest, options: { uid: boolean }): Promise<{ expungeIssued: boolean }> {
  const folder = session.folder;
  const { writer } = session.conn;
  const { items } = request;
  const sections = items.filter((i): i is SectionItem => i.type === 'SECTION');
  const cachedItems = items.filter((i) => i.type === 'ENVELOPE' || i.type === 'BODYSTRUCTURE' || i.type === 'BODY').map((i) => i.type as CachedItem);
  const wantsUid = options.uid || items.some((i) => i.type === 'UID');
  const wantsModseq = items.some((i) => i.type === 'MODSEQ') || request.changedSince !== undefined;
  const wantsFlags = items.some((i) => i.type === 'FLAGS');
  if (wantsModseq) session.condstore = true;

  let selected = indexes;
  if (request.changedSince !== undefined) {
    const since = request.changedSince;
    selected = indexes.filter((i) => (folder.message(folder.uids[i]!)?.modseq ?? 0) > since);
  }

  // A body fetched without PEEK sets \Seen (RFC 3501 6.4.5); the new flags go into the responses.
  const seenChanged = new Set<number>();
  if (!folder.readOnly && sections.some((s) => !s.peek)) {
    const unseen = selected.map((i) => folder.uids[i]!).filter((u) => !folder.isGone(u) && !folder.message(u)?.flags.includes('\\Seen'));
    if (unseen.length > 0) {
      const result = await session.ownChange(
        () => session.store.setFlags(session.user, folder.name, unseen, 'add', ['\\Seen']),
        (r) => r.updated.map((m) => m.uid),
      );
      folder.updateMessages(result.updated);
      for (const m of result.updated) seenChanged.add(m.uid);
    }
  }

  const user = session.user;
  const name = folder.name;
  const cache = session.ctx.cache.folder(user, name, folder.info.uidValidity);
  // Which messages must be read: any BODY[...] item, or a cacheable item not in the cache.
  const needsRead = new Uint8Array(selected.length);
  if (sections.length > 0) needsRead.fill(1);
  else if (cachedItems.length > 0) {
    for (let k = 0; k < selected.length; k++) {
      const uid = folder.uids[selected[k]!]!;
      if (cachedItems.some((item) => cache.get(uid, item) === undefined)) needsRead[k] = 1;
    }
  }

  const read = (uid: number): Promise<Buffer | undefined> =>
    session.store.read(user, name, uid).catch((err: unknown) => {
      if (err instanceof MailStoreError && err.code === 'NO_SUCH_MESSAGE') return undefined;
      throw err;
    });
  const reads: Array<Promise<Buffer | undefined> | undefined> = new Array(selected.length);
  let started = 0;
  let expungeIssued = false;
  const context: WriteContext = { session, items, cache, wantsUid, condstore: session.condstore, wantsFlags, wantsModseq };

  for (let k = 0; k < selected.length; k++) {
    const index = selected[k]!;
    const uid = folder.uids[index]!;
    const message = folder.message(uid);
    let raw: Buffer | undefined;
    if (needsRead[k]) {
      if (started <= k) started = k;
      for (; started < selected.length && started < k + READ_AHEAD; started++) {
        if (!needsRead[started]) continue;
        const p = read(folder.uids[selected[started]!]!);
        p.catch(() => undefined); // awaited in order below; a later failure must not go unhandled meanwhile
        reads[started] = p;
      }
      raw = await reads[k];
      reads[k] = undefined;
      if (!raw) {
        expungeIssued = true;
        continue;
      }
      // For the next SEARCH on header fields.
      if (!cache.header(uid)) cache.setHeader(uid, raw, headerBounds(raw).bodyStart);
    }
    if (!message) continue;
    writeOne(context, index + 1, uid, message, raw, seenChanged.has(uid));
    if (writer.full) await writer.flush();
  }
  return { expungeIssued };
}

interface WriteContext {
  session: ImapSession;
  items: readonly FetchItem[];
  cache: FolderCache;
  wantsUid: boolean;
  wantsFlags: boolean;
  wantsModseq: boolean;
  condstore: boolean;
}

function writeOne(c: WriteContext, seq: number, uid: number, message: StoredMessage, raw: Buffer | undefined, seenChanged: boolean): void {
  const { writer } = c.session.conn;
  const folder = c.session.folder;
  const { cache } = c;
  let root: MimePart | undefined;
  let text = `* ${seq} FETCH (`;
  let first = true;
  const put = (item: string) => {
    text += first ? item : ` ${item}`;
    first = false;
  };
  if (c.wantsUid) put(`UID ${uid}`);
  const flags = c.wantsFlags || seenChanged;
  if (flags) put(`FLAGS ${flagList(folder.flagsOf(uid))}`);
  if (c.wantsModseq || (c.condstore && flags)) put(`MODSEQ (${message.modseq})`);
  for (const item of c.items) {
    switch (item.type) {
      case 'INTERNALDATE':
        put(`INTERNALDATE ${formatInternalDate(message.internalDate)}`);
        break;
      case 'RFC822.SIZE':
        put(`RFC822.SIZE ${message.size}`);
        break;
      case 'ENVELOPE':
      case 'BODYSTRUCTURE':
      case 'BODY': {
        let value = cache.get(uid, item.type);
        if (value === undefined) {
          if (item.type === 'ENVELOPE') value = root ? imapEnvelopeFromHeader(raw!, root.headerStart, root.headerEnd) : imapEnvelopeFromHeader(raw!);
          else value = imapBodyStructure(raw!, (root ??= parseMime(raw!)), item.type === 'BODYSTRUCTURE');
          cache.set(uid, item.type, value);
        }
        put(`${item.type} ${value}`);
        break;
      }
      case 'SECTION': {
        let data = item.part.length === 0 ? topLevelSection(raw!, item) : sectionOf(raw!, (root ??= parseMime(raw!)), item);
        if (item.partial) data = partial(data, item.partial.start, item.partial.length);
        put(`${item.label} {${data.length}}\r\n`);
        writer.text(text);
        writer.bytes(data);
        text = '';
        break;
      }
      default:
        break; // UID, FLAGS, MODSEQ: written first
    }
  }
  writer.text(`${text})\r\n`);
}

/**
 * A section of the message itself (BODY[], [HEADER], [TEXT], [HEADER.FIELDS ...]): only the
 * header's bounds are needed, not the MIME tree (what clients listing a folder ask for).
 */
function topLevelSection(raw: Buffer, item: SectionItem): Buffer {
  if (item.kind === undefined) return raw;
  const { headerEnd, bodyStart } = headerBounds(raw);
  switch (item.kind) {
    case 'HEADER':
      return raw.subarray(0, bodyStart);
    case 'TEXT':
      return raw.subarray(bodyStart);
    case 'HEADER.FIELDS':
    case 'HEADER.FIELDS.NOT':
      return headerFieldsSection(raw, 0, headerEnd, item.fields ?? [], item.kind === 'HEADER.FIELDS.NOT', bodyStart > headerEnd);
    default:
      return EMPTY; // MIME of the message itself does not exist
  }
}

const EMPTY = Buffer.alloc(0);

function sectionOf(raw: Buffer, root: MimePart, item: SectionItem): Buffer {
  return bodySection(raw, root, { part: item.part, ...(item.kind ? { kind: item.kind } : {}), ...(item.fields ? { fields: item.fields } : {}) });
}
