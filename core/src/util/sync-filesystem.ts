import { execFile } from 'node:child_process';

/**
 * syncfs(2) for the file system holding `path`: flushes every dirty file on it at once. Node has
 * no binding for it, so we run coreutils' `sync --file-system` (Debian's coreutils has had -f since
 * 8.24). It is called about once a second, never per message.
 */
export function syncFilesystem(path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('sync', ['--file-system', path], (err) => (err ? reject(err) : resolve()));
  });
}
