import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { hostname as osHostname } from 'node:os';
import { join, resolve } from 'node:path';
import { normalizeDomain } from '../../directory/address.js';
import { ErrorCode, PosternError } from '../../errors.js';
import { parse, positionals } from '../args.js';
import { println, type CliContext, type CommandGroup } from '../command.js';
import { configTemplate, LOCAL_LISTENERS, STANDARD_LISTENERS } from '../config-template.js';

const help = `Usage:
  postern init [--dir DIR] [--hostname NAME] [--local] [--force]

Writes DIR/postern.yaml (a commented, working config), DIR/data, and a self-signed TLS
certificate for NAME in DIR/data/tls (kept if one is already there).

Options:
  --dir DIR         where to write (default: the current folder)
  --hostname NAME   the server's host name (default: this machine's name)
  --local           listen on 127.0.0.1 ports 2525/2587/2465 instead of 0.0.0.0 25/587/465
                    (a first try without root; switch to the standard ports for production)
  --force           overwrite an existing postern.yaml`;

export const initCommand: CommandGroup = {
  name: 'init',
  summary: 'write a working postern.yaml, data folder and TLS certificate',
  help,
  async run(args: string[], ctx: CliContext) {
    const { values, positionals: pos } = parse(
      args,
      { dir: { type: 'string' }, hostname: { type: 'string' }, local: { type: 'boolean' }, force: { type: 'boolean' } },
      'init',
    );
    if (values.help) {
      println(ctx, help);
      return 0;
    }
    positionals(pos, [], 'init');
    const dir = resolve(values.dir ?? '.');
    const hostname = normalizeDomain(values.hostname ?? osHostname());
    const configFile = join(dir, 'postern.yaml');
    if (existsSync(configFile) && !values.force) {
      throw new PosternError(ErrorCode.CONFIG_EXISTS, `${configFile} already exists; pass --force to overwrite it`, { path: configFile });
    }

    const dataDir = join(dir, 'data');
    const tlsDir = join(dataDir, 'tls');
    // Private: the data folder will hold password hashes, mail and the TLS key.
    mkdirSync(tlsDir, { recursive: true, mode: 0o700 });
    writeFileSync(configFile, configTemplate(hostname, values.local ? LOCAL_LISTENERS : STANDARD_LISTENERS));
    println(ctx, `wrote ${configFile}`);

    const keyFile = join(tlsDir, 'key.pem');
    const certFile = join(tlsDir, 'cert.pem');
    if (existsSync(keyFile) && existsSync(certFile)) {
      println(ctx, `kept the existing certificate in ${tlsDir}`);
    } else {
      // Loaded here only: node-forge takes a noticeable part of a second to import.
      const { CERT_DAYS, selfSignedCertificate } = await import('../self-signed-cert.js');
      const pair = selfSignedCertificate(hostname);
      writeFileSync(keyFile, pair.key, { mode: 0o600 });
      writeFileSync(certFile, pair.cert, { mode: 0o644 });
      println(ctx, `wrote a self-signed certificate for ${hostname} (${CERT_DAYS} days) to ${tlsDir}`);
    }
    println(ctx, `next: postern domain add ${hostname.split('.').slice(1).join('.') || hostname} --config ${configFile}`);
    return 0;
  },
};
