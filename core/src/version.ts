import { readFileSync } from 'node:fs';

/**
 * This Postern's version: core/package.json's `version`, which plugin `engine` ranges are matched
 * against. Read from the file (not inlined at build time) so src (tsx) and dist agree; the path is
 * the same from core/src and core/dist.
 */
export const POSTERN_VERSION: string = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
