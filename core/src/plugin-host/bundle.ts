/**
 * Policy bundles: a package (`postern-bundle-<name>`) whose package.json lists plugins, their
 * option presets and their order under `postern.bundle`. This file reads and checks that list;
 * discover.ts resolves the plugins it names.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import semver from 'semver';
import { BUNDLE_MANIFEST_SCHEMA } from '@postern/sdk';
import type { BundleManifest, BundlePluginSpec } from '@postern/sdk';
import { toIssue } from '../config/validate-config.js';
import { formatKeyPath } from '../config/yaml-locate.js';
import { ErrorCode, PosternError } from '../errors.js';

/** A bundle package as read from disk, its plugin list checked and put in load order. */
export interface BundlePackage {
  /** The bundle's name: the package name without `[@scope/]postern-bundle-`. */
  name: string;
  dir: string;
  packageName: string;
  version: string;
  /** The listed plugins in the order they load (`order` first, then the rest in list order). */
  plugins: BundlePluginSpec[];
}

const ajv = new Ajv({ allErrors: true, strict: false, verbose: true, logger: false });
const validateBundleShape = ajv.compile(BUNDLE_MANIFEST_SCHEMA);

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function shapeIssues(bundle: unknown): string[] {
  if (validateBundleShape(bundle)) return [];
  return (validateBundleShape.errors ?? []).flatMap((err) => {
    const issue = toIssue(err, bundle);
    return issue ? [`${formatKeyPath(['postern', 'bundle', ...issue.path])}: ${issue.message}`] : [];
  });
}

/** The rules across entries: valid ranges, each plugin listed once, `order` naming only listed plugins. */
function listIssues(bundle: BundleManifest): string[] {
  const issues: string[] = [];
  const seen = new Set<string>();
  bundle.plugins.forEach((spec, i) => {
    if (seen.has(spec.name)) issues.push(`postern.bundle.plugins[${i}].name: ${spec.name} is listed twice`);
    seen.add(spec.name);
    if (spec.version !== undefined && semver.validRange(spec.version) === null) {
      issues.push(`postern.bundle.plugins[${i}].version: ${JSON.stringify(spec.version)} is not a semver range`);
    }
  });
  bundle.order?.forEach((name, i) => {
    if (!seen.has(name)) issues.push(`postern.bundle.order[${i}]: ${name} is not one of the bundle's plugins`);
  });
  return issues;
}

function loadOrder(bundle: BundleManifest): BundlePluginSpec[] {
  const order = bundle.order ?? [];
  const rank = (name: string) => {
    const i = order.indexOf(name);
    return i === -1 ? order.length : i;
  };
  // Array.prototype.sort is stable: unordered plugins keep their list order after the ordered ones.
  return [...bundle.plugins].sort((a, b) => rank(a.name) - rank(b.name));
}

/**
 * Read the bundle package in `dir`. `guess` names it in errors until package.json is read.
 * @throws PosternError BUNDLE_INVALID naming the bundle and each bad key.
 * @example
 * const bundle = await readBundle('/srv/postern/node_modules/postern-bundle-acme', 'acme');
 * bundle.plugins.map((p) => p.name); // ['access', 'rate-limit']
 */
export async function readBundle(dir: string, guess: string): Promise<BundlePackage> {
  const fail = (name: string, errors: string[], cause?: unknown) =>
    new PosternError(ErrorCode.BUNDLE_INVALID, `bundle ${name}: package.json in ${dir}: ${errors.join('; ')}`, { bundle: name, dir, errors }, { cause });
  let pkg: unknown;
  try {
    pkg = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as unknown;
  } catch (err) {
    throw fail(guess, [(err as Error).message], err);
  }
  if (!isRecord(pkg)) throw fail(guess, ['must be a JSON object']);
  const packageName = typeof pkg.name === 'string' ? pkg.name : guess;
  const name = /(?:^|\/)postern-bundle-(.+)$/.exec(packageName)?.[1] ?? guess;
  const postern = pkg.postern;
  const bundle = isRecord(postern) ? postern.bundle : undefined;
  if (bundle === undefined) throw fail(name, ['postern.bundle: missing (a bundle lists its plugins under "postern": { "bundle": { "plugins": [...] } })']);
  const issues = shapeIssues(bundle);
  if (issues.length === 0) issues.push(...listIssues(bundle as BundleManifest));
  if (issues.length > 0) throw fail(name, issues);
  const version = typeof pkg.version === 'string' ? pkg.version : '0.0.0';
  return { name, dir, packageName, version, plugins: structuredClone(loadOrder(bundle as BundleManifest)) };
}
