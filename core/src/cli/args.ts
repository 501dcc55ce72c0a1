/**
 * Argument parsing on top of node:util parseArgs: wrong flags become USAGE errors (exit 2) and
 * the common value formats (sizes, the config path) are parsed in one place.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { configPathFrom } from '../config/load-config.js';
import { ErrorCode, PosternError } from '../errors.js';
import type { CliContext } from './command.js';

type Options = NonNullable<ParseArgsConfig['options']>;

export function usageError(message: string, command?: string): PosternError {
  const hint = command ? `; see \`postern help ${command}\`` : '; see `postern --help`';
  return new PosternError(ErrorCode.USAGE, `${message}${hint}`);
}

/** The options every command accepts. */
export const COMMON_OPTIONS = {
  config: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies Options;

/** The parsed flags: strings for `type: 'string'` options, booleans otherwise; absent when not given. */
export type OptionValues<O> = { [K in keyof O]?: O[K] extends { type: 'string' } ? string : boolean };

export interface Parsed<O> {
  values: OptionValues<typeof COMMON_OPTIONS & O>;
  positionals: string[];
}

/**
 * parseArgs with positionals allowed and unknown flags refused as USAGE errors naming `command`.
 */
export function parse<O extends Options>(args: string[], options: O, command: string): Parsed<O> {
  try {
    const parsed = parseArgs({ args, options: { ...COMMON_OPTIONS, ...options }, allowPositionals: true, strict: true });
    return parsed as unknown as Parsed<O>;
  } catch (err) {
    throw usageError((err as Error).message.split('\n')[0]!.replace(/\. To specify.*$/, ''), command);
  }
}

/** The config file for this run: the command's --config, else the global one, else env/default. */
export function configPath(ctx: CliContext, flag: string | undefined): string {
  return configPathFrom(flag ?? ctx.globalConfig, ctx.env);
}

/** The positionals named in `names` (the last `optional` of them may be left out), refusing extras. */
export function positionals(values: string[], names: string[], command: string, optional = 0): string[] {
  if (values.length < names.length - optional) throw usageError(`missing ${names[values.length]}`, command);
  if (values.length > names.length) throw usageError(`unexpected argument "${values[names.length]}"`, command);
  return values;
}

const UNITS: Record<string, number> = { '': 1, B: 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 };

/**
 * A size in bytes from `500M`, `2G`, `1024K`, `1.5G` or plain bytes (binary units, as mail
 * clients show quotas); `unlimited`/`none` mean no limit (null).
 * @example
 * parseSize('500M'); // 524288000
 */
export function parseSize(value: string, command: string): number | null {
  const v = value.trim();
  if (/^(unlimited|none)$/i.test(v)) return null;
  const m = /^(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?$/i.exec(v);
  if (!m) throw usageError(`"${value}" is not a size (e.g. 500M, 2G, 1024K, 1048576 or unlimited)`, command);
  return Math.round(Number(m[1]) * UNITS[m[2]!.toUpperCase()]!);
}

/** 524288000 → "500M"; exact multiples get the largest unit, others one decimal. */
export function formatSize(bytes: number | null): string {
  if (bytes === null) return 'unlimited';
  for (const unit of ['T', 'G', 'M', 'K'] as const) {
    const size = UNITS[unit]!;
    if (bytes >= size) return bytes % size === 0 ? `${bytes / size}${unit}` : `${(bytes / size).toFixed(1)}${unit}`;
  }
  return `${bytes}`;
}
