import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import { parseConfig } from './load-config.js';

/**
 * Turn a plugin on or off in the config file, keeping the admin's comments and layout (the yaml
 * Document API edits in place). The edited text is validated as a whole before it replaces the
 * file, atomically, so a running server watching the file never reads half a file or a config
 * that `check-config` would refuse.
 */
export function setPluginEnabled(path: string, name: string, enabled: boolean): void {
  const text = readFileSync(path, 'utf8');
  const doc = parseDocument(text);
  if (doc.hasIn(['plugins', name])) doc.setIn(['plugins', name, 'enabled'], enabled);
  else doc.setIn(['plugins', name], doc.createNode({ enabled }));
  const next = doc.toString();
  parseConfig(next, path);
  const tmp = `${path}.postern-tmp`;
  writeFileSync(tmp, next);
  renameSync(tmp, path);
}
