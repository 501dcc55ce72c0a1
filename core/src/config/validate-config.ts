/**
 * Checks a parsed postern.yaml against the schema (filling in defaults as it goes) plus the rules
 * a JSON Schema cannot state (unique listener names and ports, plugin names), and turns every
 * problem into an Issue: a key path and a message an admin can act on.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { isDnsServer, normalizeCidr } from './network-syntax.js';
import { configSchema } from './schema.js';
import type { KeyPath } from './yaml-locate.js';

export interface Issue {
  path: KeyPath;
  message: string;
}

/** npm package names (optionally scoped), which is what plugin names are looked up as. */
const PLUGIN_NAME = /^(?:@[a-z0-9][a-z0-9._~-]*\/)?[a-z0-9][a-z0-9._~-]*$/;
/** Keys of `plugins` that are settings, not plugin sections. */
export const PLUGINS_SETTINGS = new Set(['timeoutMs', 'paths']);

let compiled: ValidateFunction | undefined;

function validator(): ValidateFunction {
  if (compiled) return compiled;
  // verbose: errors carry their schema, which is where `x-message` is read from.
  const ajv = new Ajv({ allErrors: true, useDefaults: true, verbose: true, strict: true });
  ajv.addVocabulary(['x-message']);
  ajv.addFormat('cidr', (value: string) => normalizeCidr(value) !== undefined);
  ajv.addFormat('dns-server', isDnsServer);
  compiled = ajv.compile(configSchema());
  return compiled;
}

const TYPE_NAMES: Record<string, string> = {
  string: 'a string',
  integer: 'a whole number',
  number: 'a number',
  boolean: 'true or false',
  array: 'a list',
  object: 'a mapping of keys',
};

/** Turn a JSON pointer into a key path, using the data to tell list indexes from keys. */
function toKeyPath(pointer: string, data: unknown): (string | number)[] {
  if (pointer === '') return [];
  const path: (string | number)[] = [];
  let node = data;
  for (const raw of pointer.slice(1).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(node)) {
      path.push(Number(key));
      node = node[Number(key)];
    } else {
      path.push(key);
      node = node && typeof node === 'object' ? (node as Record<string, unknown>)[key] : undefined;
    }
  }
  return path;
}

/** One ajv error as a key path and an admin-readable message (plugin options use it too). */
export function toIssue(err: ErrorObject, data: unknown): Issue | undefined {
  const path = toKeyPath(err.instancePath, data);
  const params = err.params as Record<string, unknown>;
  const custom = (err.parentSchema as Record<string, unknown> | undefined)?.['x-message'];
  switch (err.keyword) {
    case 'additionalProperties':
      return { path: [...path, String(params.additionalProperty)], message: 'unknown key' };
    case 'required':
      return { path: [...path, String(params.missingProperty)], message: 'is required' };
    case 'enum':
      return { path, message: `must be one of ${(params.allowedValues as unknown[]).join(', ')}` };
    case 'type':
      return { path, message: `must be ${TYPE_NAMES[String(params.type)] ?? String(params.type)}` };
    case 'minimum':
    case 'maximum':
      return { path, message: `must be ${String(params.comparison)} ${String(params.limit)}` };
    case 'minLength':
      return { path, message: params.limit === 1 ? 'must not be empty' : `must be at least ${String(params.limit)} characters` };
    case 'uniqueItems': {
      const [first, second] = [Number(params.i), Number(params.j)].sort((a, b) => a - b);
      return { path: [...path, second!], message: `repeats item ${first}` };
    }
    case 'pattern':
    case 'format':
      return { path, message: typeof custom === 'string' ? custom : err.message ?? 'is invalid' };
    default:
      return { path, message: err.message ?? 'is invalid' };
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Rules across items: listener names and host:port pairs are unique; plugin names are package names. */
function crossChecks(config: Record<string, unknown>): Issue[] {
  const issues: Issue[] = [];
  const smtp = config.smtp;
  const listeners = isRecord(smtp) && Array.isArray(smtp.listeners) ? smtp.listeners : [];
  const names = new Map<string, number>();
  const bindings = new Map<string, string>();
  listeners.forEach((l: unknown, i) => {
    if (!isRecord(l)) return;
    if (typeof l.name === 'string') {
      const first = names.get(l.name);
      if (first !== undefined) issues.push({ path: ['smtp', 'listeners', i, 'name'], message: `duplicate listener name "${l.name}" (also listeners[${first}])` });
      else names.set(l.name, i);
    }
    if (typeof l.host === 'string' && typeof l.port === 'number') {
      const binding = `${l.host}:${l.port}`;
      const owner = bindings.get(binding);
      if (owner !== undefined) issues.push({ path: ['smtp', 'listeners', i, 'port'], message: `${binding} is already used by listener "${owner}"` });
      else bindings.set(binding, String(l.name));
    }
  });
  const plugins = config.plugins;
  if (isRecord(plugins)) {
    for (const name of Object.keys(plugins)) {
      if (PLUGINS_SETTINGS.has(name) || PLUGIN_NAME.test(name)) continue;
      issues.push({ path: ['plugins', name], message: 'is not a valid plugin name (lower-case package name, e.g. rate-limit or @acme/postern-plugin-x)' });
    }
  }
  return issues;
}

/**
 * Validate `config` in place: defaults from the schema are written into it. Returns the problems
 * found, or an empty list when the config can be used.
 */
export function validateConfig(config: Record<string, unknown>): Issue[] {
  const validate = validator();
  const issues: Issue[] = [];
  if (!validate(config)) {
    for (const err of validate.errors ?? []) {
      const issue = toIssue(err, config);
      if (issue) issues.push(issue);
    }
  }
  issues.push(...crossChecks(config));
  return issues;
}
