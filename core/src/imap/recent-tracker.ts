/**
 * \Recent (RFC 3501 2.3.2): a message is recent in the first session that sees it in its
 * folder. One tracker is shared by every IMAP session of the process; it remembers, per user
 * and folder, the highest UID some session has already claimed. It lives in memory: after a
 * restart the first session to select a folder sees its messages as recent again.
 */
export class RecentTracker {
  readonly #claimed = new Map<string, { uidValidity: number; uid: number }>();

  /**
   * The UIDs among `uids` (ascending) that are recent for the session now looking at them. A
   * read-write session claims them; a read-only one (EXAMINE) sees them without taking them.
   */
  claim(user: string, folder: string, uidValidity: number, uids: readonly number[], readOnly: boolean): number[] {
    const key = keyOf(user, folder);
    const seen = this.#claimed.get(key);
    const from = seen && seen.uidValidity === uidValidity ? seen.uid : 0;
    const recent: number[] = [];
    for (let i = uids.length - 1; i >= 0 && uids[i]! > from; i--) recent.push(uids[i]!);
    recent.reverse();
    if (!readOnly && recent.length > 0) this.#claimed.set(key, { uidValidity, uid: recent[recent.length - 1]! });
    return recent;
  }

  /** How many of `uids` no session has claimed yet (STATUS RECENT). */
  count(user: string, folder: string, uidValidity: number, uids: readonly number[]): number {
    const seen = this.#claimed.get(keyOf(user, folder));
    const from = seen && seen.uidValidity === uidValidity ? seen.uid : 0;
    let n = 0;
    for (let i = uids.length - 1; i >= 0 && uids[i]! > from; i--) n++;
    return n;
  }
}

/** Folder names as the store compares them: INBOX in any case is INBOX, also as the first level ("inbox/x"). */
export function folderKey(folder: string): string {
  return /^inbox(?:\/|$)/i.test(folder) ? `INBOX${folder.slice(5)}` : folder;
}

function keyOf(user: string, folder: string): string {
  return `${user.toLowerCase()}\n${folderKey(folder)}`;
}
