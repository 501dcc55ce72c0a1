import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface MailFile {
  name: string;
  path: string;
  data: Buffer;
}

export interface MaildirContents {
  root: string;
  new: MailFile[];
  cur: MailFile[];
  tmp: string[];
}

/** <dataDir>/mail/<domain>/<local>, and the folder inside it ("INBOX" is the root, "Junk" is .Junk). */
export function maildirPath(dataDir: string, address: string, folder = 'INBOX'): string {
  const at = address.lastIndexOf('@');
  const root = join(dataDir, 'mail', address.slice(at + 1).toLowerCase(), address.slice(0, at).toLowerCase());
  return folder.toUpperCase() === 'INBOX' ? root : join(root, `.${folder}`);
}

async function list(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

async function files(dir: string): Promise<MailFile[]> {
  return Promise.all((await list(dir)).map(async (name) => ({ name, path: join(dir, name), data: await readFile(join(dir, name)) })));
}

/** Everything in one folder of a user's Maildir (missing directories read as empty). */
export async function readMaildir(dataDir: string, address: string, folder = 'INBOX'): Promise<MaildirContents> {
  const root = maildirPath(dataDir, address, folder);
  return { root, new: await files(join(root, 'new')), cur: await files(join(root, 'cur')), tmp: await list(join(root, 'tmp')) };
}

/** The messages in new/ and cur/ together. */
export async function messagesOf(dataDir: string, address: string, folder = 'INBOX'): Promise<MailFile[]> {
  const box = await readMaildir(dataDir, address, folder);
  return [...box.new, ...box.cur];
}

/**
 * Split a delivered file into the trace header Postern prepended (the first header field,
 * "Received:", with its folded continuation lines) and the rest, which must be the bytes the
 * client sent.
 */
export function splitReceived(data: Buffer): { received: string; rest: Buffer } {
  let end = data.indexOf('\r\n');
  if (end < 0) throw new Error('no CRLF in the delivered file');
  // continuation lines start with a space or a tab
  while (data[end + 2] === 0x20 || data[end + 2] === 0x09) {
    end = data.indexOf('\r\n', end + 2);
    if (end < 0) throw new Error('unterminated Received header');
  }
  return { received: data.subarray(0, end + 2).toString('latin1'), rest: data.subarray(end + 2) };
}
