/**
 * Plugin manifests: read from package.json's `postern` key or a postern.json, checked against the
 * sdk's MANIFEST_SCHEMA plus what a schema cannot say (semver, engine range, a compilable options
 * schema), and the plugin's options validated against the schema the manifest declares.
 *
 * Every failure is a PosternError whose message names the plugin, the key and the reason, e.g.
 *   plugin greylist: manifest (package.json "postern") in /srv/plugins/greylist: hooks[1]: unknown hook "mailfrom" (...)
 *   plugin greylist requires postern ^2.0.0, this is 0.1.0
 *   plugins.rate-limit.limit: must be >= 1
 */
import { readFile } from 'node:fs/promises';
import { basename, isAbsolute, join, normalize, sep } from 'node:path';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import semver from 'semver';
import { HOOK_NAMES, MANIFEST_SCHEMA } from '@postern/sdk';
import type { JsonSchema, PluginManifest, PluginPermissions } from '@postern/sdk';
import { toIssue } from '../config/validate-config.js';
import { formatKeyPath } from '../config/yaml-locate.js';
import { ErrorCode, PosternError } from '../errors.js';
import { POSTERN_VERSION } from '../version.js';

/** Keys of a plugin's config section that configure the host's handling of it; the plugin never sees them. */
export const HOST_OPTION_KEYS: ReadonlySet<string> = new Set(['enabled', 'failOpen', 'timeoutMs', 'grants', 'sandbox']);

/** What a plugin without an `options` schema accepts: nothing, so a stray key is reported, not ignored. */
const NO_OPTIONS: JsonSchema = Object.freeze({ type: 'object', additionalProperties: false });

/** The manifest files of a plugin folder. */
export const MANIFEST_FILE = 'postern.json';
export const PACKAGE_FILE = 'package.json';

export interface ReadManifestOptions {
  /** The version `engine` must include. Default: this Postern's (core/package.json). */
  posternVersion?: string;
}

// One instance for manifests (the schema is fixed) ...
const manifestAjv = new Ajv({ allErrors: true, strict: false, verbose: true, logger: false });
const validateManifestShape = manifestAjv.compile(MANIFEST_SCHEMA);

// ... and one that checks plugin option schemas against the JSON Schema meta-schema, without
// compiling them (see compileOptionsSchema).
const schemaChecker = new Ajv({ allErrors: true, strict: false, logger: false });
/** Compiled option schemas by their JSON text, least recently used first. */
const compiledOptions = new Map<string, ValidateFunction>();
const MAX_COMPILED_OPTIONS = 256;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Compile an options schema, once per distinct schema text. Hot reload reads every manifest again
 * for each generation, so an unchanged schema must not be compiled again, and a changed one must
 * not pile up: an ajv instance keeps everything it ever compiled (removeSchema does not free its
 * code scope), so each schema gets its own small instance, freed when it leaves this bounded cache.
 * `verbose` lets toIssue read a schema's `x-message`.
 */
function compileOptionsSchema(schema: JsonSchema): ValidateFunction {
  const key = JSON.stringify(schema);
  const cached = compiledOptions.get(key);
  if (cached) {
    compiledOptions.delete(key);
    compiledOptions.set(key, cached);
    return cached;
  }
  if (!schemaChecker.validateSchema(schema)) throw new Error(`schema is invalid: ${schemaChecker.errorsText(schemaChecker.errors)}`);
  const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false, verbose: true, logger: false, validateSchema: false, addUsedSchema: false });
  const validate = ajv.compile(schema);
  compiledOptions.set(key, validate);
  if (compiledOptions.size > MAX_COMPILED_OPTIONS) compiledOptions.delete(compiledOptions.keys().next().value as string);
  return validate;
}

function issueLines(errors: readonly ErrorObject[] | null | undefined, data: unknown, prefix: readonly (string | number)[] = []): string[] {
  const lines: string[] = [];
  for (const err of errors ?? []) {
    const issue = toIssue(err, data);
    if (!issue) continue;
    const path = formatKeyPath([...prefix, ...issue.path]);
    lines.push(path === '' ? issue.message : `${path}: ${issue.message}`);
  }
  return [...new Set(lines)];
}

/** Schema errors of a written manifest, phrased for people ("hooks[1]: unknown hook ..."). */
function shapeIssues(raw: Record<string, unknown>): string[] {
  const hooks = raw.hooks;
  if (validateManifestShape(raw)) return [];
  return (validateManifestShape.errors ?? []).flatMap((err) => {
    // The generic "must be one of <every hook>" hides which entry was wrong.
    const hook = /^\/hooks\/(\d+)$/.exec(err.instancePath);
    if (err.keyword === 'enum' && hook && Array.isArray(hooks)) {
      return [`hooks[${hook[1]}]: unknown hook ${JSON.stringify(hooks[Number(hook[1])])} (hooks are ${HOOK_NAMES.join(', ')})`];
    }
    return issueLines([err], raw);
  });
}

/** The checks a JSON Schema cannot express; each only runs when the key has the right type. */
function semanticIssues(m: Record<string, unknown>): string[] {
  const issues: string[] = [];
  if (m.version === undefined) issues.push('version: missing (set "version" in package.json or in the manifest)');
  else if (typeof m.version === 'string' && semver.valid(m.version) === null) issues.push(`version: ${JSON.stringify(m.version)} is not a semver version (e.g. 1.2.3)`);
  if (typeof m.engine === 'string' && semver.validRange(m.engine) === null) issues.push(`engine: ${JSON.stringify(m.engine)} is not a semver range (e.g. ^0.1.0)`);
  const permissions = m.permissions;
  if (isRecord(permissions) && Array.isArray(permissions.net)) {
    permissions.net.forEach((target: unknown, i) => {
      const port = typeof target === 'string' ? Number(/:(\d+)$/.exec(target)?.[1]) : NaN;
      if (typeof target === 'string' && (port < 1 || port > 65535)) issues.push(`permissions.net[${i}]: port must be 1 to 65535`);
    });
  }
  if (typeof m.entry === 'string') {
    const entry = normalize(m.entry);
    if (isAbsolute(m.entry) || entry === '..' || entry.startsWith(`..${sep}`)) issues.push('entry: must be a path inside the plugin folder');
  }
  if (isRecord(m.options)) {
    if (m.options.type !== 'object') issues.push('options: must be a JSON Schema with "type": "object"');
    else {
      try {
        compileOptionsSchema(m.options);
      } catch (err) {
        issues.push(`options: not a valid JSON Schema: ${(err as Error).message}`);
      }
    }
  }
  return issues;
}

/** Read `file` as JSON; undefined when it does not exist. */
async function readJson(file: string, plugin: string, dir: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
    throw new PosternError(ErrorCode.PLUGIN_MANIFEST_INVALID, `plugin ${plugin}: cannot read ${file}: ${(err as Error).message}`, { plugin, dir }, { cause: err });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new PosternError(ErrorCode.PLUGIN_MANIFEST_INVALID, `plugin ${plugin}: ${basename(file)} in ${dir} is not valid JSON: ${(err as Error).message}`, { plugin, dir }, { cause: err });
  }
}

/**
 * Read and check the manifest of the plugin in `dir`: package.json's `postern` key or postern.json.
 * A folder with both is refused rather than one silently winning: two manifests that may disagree
 * are a mistake the author should see. `version` defaults to package.json's.
 *
 * @throws PosternError PLUGIN_MANIFEST_MISSING (neither exists), PLUGIN_MANIFEST_INVALID (unreadable,
 *   not JSON, a rule broken: `details.errors` lists "key: reason" lines) or PLUGIN_ENGINE_MISMATCH.
 *   Until the manifest's name is known, messages name the plugin by its folder.
 * @example
 * const manifest = await readManifest('/srv/postern/plugins/greylist');
 * manifest.hooks; // ['rcptTo']
 */
export async function readManifest(dir: string, options: ReadManifestOptions = {}): Promise<PluginManifest> {
  let plugin = basename(dir);
  const pkg = await readJson(join(dir, PACKAGE_FILE), plugin, dir);
  const file = await readJson(join(dir, MANIFEST_FILE), plugin, dir);
  const invalid = (where: string, errors: string[]) =>
    new PosternError(ErrorCode.PLUGIN_MANIFEST_INVALID, `plugin ${plugin}: ${where} in ${dir}: ${errors.join('; ')}`, { plugin, dir, errors });

  if (pkg !== undefined && !isRecord(pkg)) throw invalid(PACKAGE_FILE, ['must be a JSON object']);
  const inPackage = pkg?.postern;
  if (file !== undefined && inPackage !== undefined) {
    throw invalid('manifest', [`found both ${MANIFEST_FILE} and a "postern" key in ${PACKAGE_FILE}; keep one`]);
  }
  if (file === undefined && inPackage === undefined) {
    throw new PosternError(
      ErrorCode.PLUGIN_MANIFEST_MISSING,
      `plugin ${plugin}: no manifest in ${dir} (add a "postern" key to ${PACKAGE_FILE} or a ${MANIFEST_FILE})`,
      { plugin, dir },
    );
  }
  const where = file !== undefined ? `manifest (${MANIFEST_FILE})` : `manifest (${PACKAGE_FILE} "postern")`;
  const raw = file ?? inPackage;
  if (!isRecord(raw)) throw invalid(where, ['must be a JSON object']);
  if (typeof raw.name === 'string' && raw.name !== '') plugin = raw.name;
  if ('trusted' in raw) {
    // Said plainly because it looks like a typo of a real key otherwise.
    throw invalid(where, ['trusted: a plugin cannot declare itself trusted; the admin lists trusted plugins in postern.yaml (plugins.trusted)']);
  }

  const written: Record<string, unknown> = { ...raw };
  if (written.version === undefined && typeof pkg?.version === 'string') written.version = pkg.version;
  const issues = [...shapeIssues(written), ...semanticIssues(written)];
  if (issues.length > 0) throw invalid(where, issues);

  // Past the checks the shape is known; copy it so later edits of `raw` cannot reach the manifest.
  const manifest = structuredClone(written) as unknown as PluginManifest;
  manifest.permissions = (manifest.permissions as PluginPermissions | undefined) ?? {};

  const running = options.posternVersion ?? POSTERN_VERSION;
  if (!semver.satisfies(running, manifest.engine, { includePrerelease: true })) {
    throw new PosternError(ErrorCode.PLUGIN_ENGINE_MISMATCH, `plugin ${manifest.name} requires postern ${manifest.engine}, this is ${running}`, {
      plugin: manifest.name,
      dir,
      engine: manifest.engine,
      posternVersion: running,
    });
  }
  return manifest;
}

/** What validatePluginOptions found. */
export interface PluginOptionsResult {
  /** A copy of the section without the host keys, with the schema's defaults filled in. */
  options: Record<string, unknown>;
  /** One "plugins.<name>.<key path>: <reason>" line per problem; empty when the options are fine. */
  errors: string[];
}

/**
 * Check a plugin's config section against its manifest's options schema and fill in the schema's
 * defaults (also inside nested objects the admin wrote only in part). The host keys (`enabled`,
 * `failOpen`, `timeoutMs`) are removed first; the section itself is never modified.
 * A manifest without `options` takes none: any key is reported.
 * @throws PosternError PLUGIN_MANIFEST_INVALID only for a hand-made manifest whose schema does not
 *   compile (readManifest refuses those).
 * @example
 * const { options, errors } = validatePluginOptions(manifest, config.plugins.entries['rate-limit']);
 * // errors: ['plugins.rate-limit.limit: must be >= 1']
 */
export function validatePluginOptions(manifest: PluginManifest, section: Readonly<Record<string, unknown>> | undefined): PluginOptionsResult {
  const options: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(section ?? {})) if (!HOST_OPTION_KEYS.has(key)) options[key] = structuredClone(value);
  let validate: ValidateFunction;
  try {
    validate = compileOptionsSchema(manifest.options ?? NO_OPTIONS);
  } catch (err) {
    // Only reachable with a manifest that did not come from readManifest, which checks the schema.
    throw new PosternError(ErrorCode.PLUGIN_MANIFEST_INVALID, `plugin ${manifest.name}: options: not a valid JSON Schema: ${(err as Error).message}`, { plugin: manifest.name }, { cause: err });
  }
  const errors = validate(options) ? [] : issueLines(validate.errors, options, ['plugins', manifest.name]);
  return { options, errors };
}

/**
 * validatePluginOptions, throwing when the options are bad.
 * @throws PosternError PLUGIN_OPTIONS_INVALID, `details.errors` holding the lines.
 * @example
 * const options = resolvePluginOptions(manifest, mergeBundleOptions(preset, adminSection));
 */
export function resolvePluginOptions(manifest: PluginManifest, section: Readonly<Record<string, unknown>> | undefined): Record<string, unknown> {
  const { options, errors } = validatePluginOptions(manifest, section);
  if (errors.length > 0) {
    throw new PosternError(ErrorCode.PLUGIN_OPTIONS_INVALID, `plugin ${manifest.name}: invalid options: ${errors.join('; ')}`, { plugin: manifest.name, errors });
  }
  return options;
}
