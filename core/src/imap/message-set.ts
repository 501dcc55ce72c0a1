import { parseSequenceSet, resolveSequenceNumbers, resolveUidIndexes } from './protocol/sequence-set.js';
import type { SelectedFolder } from './selected-folder.js';

/**
 * The messages a sequence set names in the selected folder, as 0-based positions (sequence
 * number - 1), ascending: message sequence numbers, or UIDs for the UID commands.
 */
export function selectIndexes(folder: SelectedFolder, setText: string, uid: boolean): number[] {
  const ranges = parseSequenceSet(setText);
  if (uid) return resolveUidIndexes(ranges, folder.uids);
  return resolveSequenceNumbers(ranges, folder.exists).map((seq) => seq - 1);
}

/** The UIDs a set names, leaving out messages expunged elsewhere and not yet reported. */
export function selectUids(folder: SelectedFolder, setText: string, uid: boolean): number[] {
  const uids: number[] = [];
  for (const i of selectIndexes(folder, setText, uid)) {
    const u = folder.uids[i]!;
    if (!folder.isGone(u)) uids.push(u);
  }
  return uids;
}
