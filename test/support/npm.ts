import { execFile } from 'node:child_process';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * `npm pack` each package folder into `into`, then `npm install` all the tarballs into `project`
 * (created with a package.json when missing), the way a site installs third-party plugins.
 * Returns the project's node_modules. The packages must have no registry dependencies.
 */
export async function npmInstall(project: string, packageDirs: string[], into: string): Promise<string> {
  await mkdir(into, { recursive: true });
  for (const dir of packageDirs) await run('npm', ['pack', '--pack-destination', into, '--silent'], { cwd: dir });
  const tarballs = (await readdir(into)).filter((f) => f.endsWith('.tgz')).map((f) => join(into, f));
  await mkdir(project, { recursive: true });
  await writeFile(join(project, 'package.json'), JSON.stringify({ name: 'postern-site', version: '1.0.0', private: true }));
  await run('npm', ['install', '--no-audit', '--no-fund', '--ignore-scripts', ...tarballs], { cwd: project });
  return join(project, 'node_modules');
}
