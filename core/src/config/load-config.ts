/**
 * Reads postern.yaml into a PosternConfig. Every problem is reported as one line that names the
 * file, the line and the key path, e.g.
 *   postern.yaml:12: smtp.listeners[1].tls: must be one of none, starttls, implicit
 * and all of them are collected before failing, so one run of `postern check-config` shows them all.
 */
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { LineCounter, parseDocument, type Document } from 'yaml';
import { ErrorCode, PosternError } from '../errors.js';
import { normalizeCidr } from './network-syntax.js';
import type { PluginConfig, PosternConfig, SmtpListenerConfig } from './types.js';
import { PLUGINS_SETTINGS, validateConfig, type Issue } from './validate-config.js';
import { formatKeyPath, YamlLocator } from './yaml-locate.js';

/** The config file used when neither --config nor POSTERN_CONFIG names one. */
export const DEFAULT_CONFIG_FILE = 'postern.yaml';

/** Early-talker delay for listeners without AUTH (MX), where spambots that do not wait are common. */
const MX_EARLY_TALKER_DELAY_MS = 100;

/**
 * Which config file to use: the --config flag, else $POSTERN_CONFIG, else ./postern.yaml.
 */
export function configPathFrom(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return flag || env.POSTERN_CONFIG || DEFAULT_CONFIG_FILE;
}

/**
 * Read, validate and complete the config file at `path`.
 * @throws PosternError CONFIG_UNREADABLE (missing file, YAML syntax) or CONFIG_INVALID, with
 *   `details.errors`: one `file:line: key.path: message` string per problem.
 * @example
 * const config = loadConfig(configPathFrom(args.config));
 */
export function loadConfig(path: string): PosternConfig {
  return parseConfig(readConfigText(path), path);
}

/**
 * Validate and complete config text; `path` is used in messages and to resolve relative paths
 * (dataDir, tls, plugins.paths are relative to the config file's folder).
 */
export function parseConfig(text: string, path: string): PosternConfig {
  const { doc, locator } = parseYaml(text, path);
  const raw = doc.toJS({ maxAliasCount: 1000 }) as unknown;
  const config = raw === null || raw === undefined ? {} : raw;
  if (!isRecord(config)) {
    throw invalid(path, [`${path}:${locator.line([])}: the file must be a mapping of keys (hostname: ..., smtp: ...)`]);
  }
  dropEmptyKeys(config);
  const issues = validateConfig(config);
  if (issues.length > 0) throw invalid(path, formatIssues(path, locator, issues));
  return complete(config as unknown as ValidatedConfig, path);
}

/**
 * Only `dataDir`, resolved. The admin commands (domain, user, alias) need nothing else, and must
 * keep working while some other part of the file is being fixed.
 */
export function loadDataDir(path: string): string {
  const { doc, locator } = parseYaml(readConfigText(path), path);
  const raw = doc.toJS() as unknown;
  const dataDir = isRecord(raw) ? raw.dataDir : undefined;
  if (dataDir !== undefined && dataDir !== null && (typeof dataDir !== 'string' || dataDir === '')) {
    throw invalid(path, [`${path}:${locator.line(['dataDir'])}: dataDir: must be a non-empty string`]);
  }
  return resolve(dirname(resolve(path)), typeof dataDir === 'string' ? dataDir : './data');
}

// ---- internals ---------------------------------------------------------------------------------

/** The config after schema validation: like PosternConfig, but plugins not yet split into entries. */
type ValidatedConfig = Omit<PosternConfig, 'plugins' | 'configPath' | 'smtp'> & {
  smtp: Omit<PosternConfig['smtp'], 'listeners'> & { listeners: Array<Omit<SmtpListenerConfig, 'earlyTalkerDelayMs'> & { earlyTalkerDelayMs?: number }> };
  plugins: { timeoutMs: number; paths: string[]; trusted: string[] } & Record<string, unknown>;
};

function readConfigText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'file not found (run `postern init` or pass --config FILE)' : (err as Error).message;
    throw new PosternError(ErrorCode.CONFIG_UNREADABLE, `cannot read config ${path}: ${reason}`, { path, errors: [`${path}: ${reason}`] }, { cause: err });
  }
}

function parseYaml(text: string, path: string): { doc: Document; locator: YamlLocator } {
  const lines = new LineCounter();
  // prettyErrors off: we print our own one-line `file:line:col: message` instead of a code excerpt.
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const locator = new YamlLocator(doc, lines);
  if (doc.errors.length > 0) {
    const errors = doc.errors.map((e) => {
      const { line, col } = locator.position(e.pos[0]);
      return `${path}:${line}:${col}: ${e.message.split('\n')[0]}`;
    });
    throw new PosternError(ErrorCode.CONFIG_UNREADABLE, `${path} is not valid YAML: ${errors[0]}`, { path, errors });
  }
  return { doc, locator };
}

function invalid(path: string, errors: string[]): PosternError {
  const summary = errors.length === 1 ? errors[0]! : `${path}: ${errors.length} errors, the first: ${errors[0]}`;
  return new PosternError(ErrorCode.CONFIG_INVALID, `invalid config: ${summary}`, { path, errors });
}

function formatIssues(path: string, locator: YamlLocator, issues: Issue[]): string[] {
  const lines = issues
    .map((issue) => {
      const key = formatKeyPath(issue.path);
      return { line: locator.line(issue.path), text: key === '' ? issue.message : `${key}: ${issue.message}` };
    })
    .sort((a, b) => a.line - b.line);
  return [...new Set(lines.map((l) => `${path}:${l.line}: ${l.text}`))];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * A key written with no value (`relay:` followed only by comments) means "use the defaults", as
 * admins expect from YAML, not "must be a mapping". Plugin sections are left alone: their
 * contents are the plugin's business, and an empty section is an error worth showing.
 */
function dropEmptyKeys(node: Record<string, unknown>, depth = 0, inPlugins = false): void {
  for (const [key, value] of Object.entries(node)) {
    if (inPlugins && !PLUGINS_SETTINGS.has(key)) continue;
    if (value === null) delete node[key];
    else if (isRecord(value)) dropEmptyKeys(value, depth + 1, depth === 0 && key === 'plugins');
  }
}

/** Defaults that depend on other values, absolute paths, and the plugin sections moved to `entries`. */
function complete(config: ValidatedConfig, path: string): PosternConfig {
  const baseDir = dirname(resolve(path));
  const dataDir = resolve(baseDir, config.dataDir);
  const { timeoutMs, paths, trusted, ...sections } = config.plugins;
  return {
    ...config,
    dataDir,
    tls: {
      key: config.tls.key ? resolve(baseDir, config.tls.key) : join(dataDir, 'tls', 'key.pem'),
      cert: config.tls.cert ? resolve(baseDir, config.tls.cert) : join(dataDir, 'tls', 'cert.pem'),
    },
    smtp: {
      ...config.smtp,
      listeners: config.smtp.listeners.map((l) => ({
        ...l,
        earlyTalkerDelayMs: l.earlyTalkerDelayMs ?? (l.auth === 'none' ? MX_EARLY_TALKER_DELAY_MS : 0),
      })),
    },
    relay: { trustedNetworks: config.relay.trustedNetworks.map((n) => normalizeCidr(n)!) },
    plugins: {
      timeoutMs,
      paths: paths.map((p) => resolve(baseDir, p)),
      trusted,
      entries: sections as Record<string, PluginConfig>,
    },
    configPath: resolve(path),
  };
}
