import { close, fdatasync, open, rename, write, writev } from 'node:fs';
import { promisify } from 'node:util';

/**
 * The callback fs API, promisified. On the hot path (a few calls per message) it is measurably
 * cheaper than fs/promises, whose FileHandle objects each carry a GC finaliser.
 */
export const fsOpen = promisify(open);
export const fsWrite = (fd: number, buffer: Buffer): Promise<number> =>
  new Promise((resolve, reject) => write(fd, buffer, (err, written) => (err ? reject(err) : resolve(written))));
export const fsWritev = (fd: number, buffers: readonly NodeJS.ArrayBufferView[]): Promise<number> =>
  new Promise((resolve, reject) => writev(fd, buffers, (err, written) => (err ? reject(err) : resolve(written))));
export const fsDatasync = promisify(fdatasync);
export const fsClose = promisify(close);
export const fsRename = promisify(rename);

/** Write all of `data` (write(2) may write less than asked). */
export async function writeAll(fd: number, data: Buffer): Promise<void> {
  let offset = 0;
  while (offset < data.length) offset += await fsWrite(fd, offset === 0 ? data : data.subarray(offset));
}
