/**
 * `postern dkim keygen|record`: DKIM keys for the dkim plugin. The core never imports a plugin;
 * the two share only the path convention `<keyDir>/<domain>/<selector>.key` (PEM, mode 0600),
 * keyDir being `<dataDir>/dkim` unless config `plugins.dkim.keyDir` says otherwise
 * (docs/plugins/dkim.md).
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { loadDataDir } from '../../config/load-config.js';
import { normalizeDomain } from '../../directory/address.js';
import { ErrorCode, PosternError } from '../../errors.js';
import { configPath, parse, positionals, usageError } from '../args.js';
import { dispatch, println, type CliContext, type CommandGroup } from '../command.js';

const help = `Usage:
  postern dkim keygen DOMAIN [--selector S] [--algorithm rsa|ed25519] [--bits N] [--force]
                                       generate a signing key and print its DNS record
  postern dkim record DOMAIN [--selector S]
                                       print the DNS record of an existing key

Keys are PEM files at <keyDir>/DOMAIN/SELECTOR.key (mode 0600), where keyDir is
plugins.dkim.keyDir from the config (relative to dataDir) or <dataDir>/dkim. The dkim plugin
signs a domain's mail with every key it finds under the selectors it is configured with.

Options:
  --selector S         the selector (default: postern)
  --algorithm A        rsa (default) or ed25519 (RFC 8463; not every verifier knows it)
  --bits N             RSA key size, 1024 to 4096 (default: 2048)
  --key-dir DIR        the key directory, overriding the config
  --force              replace an existing key (the old DNS record stops verifying)
  --config FILE        config file (default: $POSTERN_CONFIG or ./postern.yaml); dataDir and
                       plugins.dkim.keyDir are read`;

export const DEFAULT_SELECTOR = 'postern';
const SELECTOR = /^[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62})(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62}))*$/;

/** The key directory for this run: --key-dir, else plugins.dkim.keyDir (under dataDir when relative), else <dataDir>/dkim. */
function keyDirFor(ctx: CliContext, values: { config?: string | undefined; 'key-dir'?: string | undefined }): string {
  if (values['key-dir']) return resolve(values['key-dir']);
  const file = configPath(ctx, values.config);
  const dataDir = loadDataDir(file);
  const raw = parseYaml(readFileSync(file, 'utf8')) as { plugins?: { dkim?: { keyDir?: unknown } } } | null;
  const keyDir = raw?.plugins?.dkim?.keyDir;
  if (typeof keyDir === 'string' && keyDir !== '') return isAbsolute(keyDir) ? keyDir : resolve(dataDir, keyDir);
  return join(dataDir, 'dkim');
}

function selectorOf(value: string | undefined): string {
  const selector = value ?? DEFAULT_SELECTOR;
  if (!SELECTOR.test(selector)) throw usageError(`"${selector}" is not a selector (letters, digits, - and _, labels separated by dots)`, 'dkim');
  return selector;
}

/**
 * The TXT record for `publicKey` in zone-file form, its text split into strings of at most 255
 * characters (RFC 1035 character-strings):
 * `S._domainkey.D. IN TXT ( "v=DKIM1; k=rsa; " "p=MIIB..." "..." )`.
 */
export function dkimTxtRecord(domain: string, selector: string, publicKey: KeyObject): string {
  const type = publicKey.asymmetricKeyType;
  const der = publicKey.export({ type: 'spki', format: 'der' });
  // RFC 8463: an Ed25519 p= is the bare 32-byte key, not the SubjectPublicKeyInfo.
  const p = (type === 'ed25519' ? der.subarray(der.length - 32) : der).toString('base64');
  const value = `p=${p}`;
  const strings = [`v=DKIM1; k=${type === 'ed25519' ? 'ed25519' : 'rsa'}; `];
  for (let i = 0; i < value.length; i += 255) strings.push(value.slice(i, i + 255));
  return `${selector}._domainkey.${domain}. IN TXT ( ${strings.map((s) => `"${s}"`).join(' ')} )`;
}

const subs = {
  async keygen(args: string[], ctx: CliContext) {
    const { values, positionals: pos } = parse(
      args,
      { selector: { type: 'string' }, algorithm: { type: 'string' }, bits: { type: 'string' }, 'key-dir': { type: 'string' }, force: { type: 'boolean' } },
      'dkim',
    );
    const [input] = positionals(pos, ['DOMAIN'], 'dkim');
    const domain = normalizeDomain(input!);
    const selector = selectorOf(values.selector);
    const algorithm = values.algorithm ?? 'rsa';
    if (algorithm !== 'rsa' && algorithm !== 'ed25519') throw usageError(`--algorithm must be rsa or ed25519, not "${algorithm}"`, 'dkim');
    const bits = values.bits === undefined ? 2048 : Number(values.bits);
    if (!Number.isInteger(bits) || bits < 1024 || bits > 4096) throw usageError(`--bits must be a whole number from 1024 to 4096, not "${values.bits}"`, 'dkim');
    if (algorithm === 'ed25519' && values.bits !== undefined) throw usageError('--bits is for rsa keys only', 'dkim');

    const file = join(keyDirFor(ctx, values), domain, `${selector}.key`);
    if (existsSync(file) && !values.force) {
      throw new PosternError(ErrorCode.DKIM_KEY_EXISTS, `${file} already exists; pass --force to replace it (its DNS record stops verifying)`, { path: file });
    }
    const { privateKey, publicKey } =
      algorithm === 'rsa' ? generateKeyPairSync('rsa', { modulusLength: bits }) : generateKeyPairSync('ed25519');
    const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    // Private: the directory 0700, the key 0600, written beside and renamed so no reader sees half a key.
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    const temp = `${file}.${process.pid}.tmp`;
    writeFileSync(temp, pem, { mode: 0o600, flag: 'wx' });
    renameSync(temp, file);
    println(ctx, `wrote ${file} (${algorithm === 'rsa' ? `rsa ${bits} bits` : 'ed25519'}, selector ${selector})`);
    println(ctx, `publish this DNS record, then enable signing (plugins.dkim):`);
    println(ctx, dkimTxtRecord(domain, selector, publicKey));
    return 0;
  },

  async record(args: string[], ctx: CliContext) {
    const { values, positionals: pos } = parse(args, { selector: { type: 'string' }, 'key-dir': { type: 'string' } }, 'dkim');
    const [input] = positionals(pos, ['DOMAIN'], 'dkim');
    const domain = normalizeDomain(input!);
    const selector = selectorOf(values.selector);
    const file = join(keyDirFor(ctx, values), domain, `${selector}.key`);
    let pem: string;
    try {
      pem = readFileSync(file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new PosternError(ErrorCode.DKIM_KEY_NOT_FOUND, `no DKIM key at ${file}; create one with \`postern dkim keygen ${domain} --selector ${selector}\``, { path: file });
      }
      throw err;
    }
    println(ctx, dkimTxtRecord(domain, selector, createPublicKey(createPrivateKey(pem))));
    return 0;
  },
};

export const dkimCommand: CommandGroup = {
  name: 'dkim',
  summary: 'generate DKIM signing keys and print their DNS records',
  help,
  run: (args, ctx) => dispatch(dkimCommand, subs, args, ctx),
};
