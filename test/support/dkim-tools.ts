/**
 * DKIM yardsticks for what Postern signs and verifies: keys made with node:crypto (their TXT
 * records for dnsmasq), signing with mailauth, and Perl's Mail::DKIM (libmail-dkim-perl) as a
 * second, independent verifier pointed at the test DNS.
 *
 * opendkim-testmsg (opendkim-tools) is not used to verify: it asks the system resolver
 * (/etc/resolv.conf, port 53), which a test cannot point at dnsmasq's port without root changes.
 */
import { generateKeyPairSync } from 'node:crypto';
import { dkimSign } from 'mailauth/lib/dkim/sign.js';
import { run } from './cli.js';

export interface DkimKey {
  /** The private key, PKCS#8 PEM (what `postern dkim keygen` writes). */
  pem: string;
  /** The record's character-strings for `startDns({ txt: [{ name, text }] })`, each <= 255 characters. */
  txt: string[];
}

/** Split `v=DKIM1; k=...; p=...` into <= 255-character strings, as a zone file would carry it. */
export function txtStrings(record: string): string[] {
  const strings: string[] = [];
  for (let i = 0; i < record.length; i += 255) strings.push(record.slice(i, i + 255));
  return strings;
}

/** A fresh RSA (default 2048 bits; 1024 for speed where size does not matter) or Ed25519 key and its TXT record. */
export function dkimKey(type: 'rsa' | 'ed25519' = 'rsa', bits = 1024): DkimKey {
  const pair = type === 'rsa' ? generateKeyPairSync('rsa', { modulusLength: bits }) : generateKeyPairSync('ed25519');
  const der = pair.publicKey.export({ type: 'spki', format: 'der' });
  const p = (type === 'ed25519' ? der.subarray(der.length - 32) : der).toString('base64');
  return { pem: pair.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, txt: txtStrings(`v=DKIM1; k=${type}; p=${p}`) };
}

/** `message` with a DKIM-Signature from mailauth on top (relaxed/relaxed), as another domain's MTA would send it. */
export async function signWith(message: string | Buffer, domain: string, selector: string, key: DkimKey): Promise<Buffer> {
  const input = Buffer.isBuffer(message) ? message : Buffer.from(message);
  const result = await dkimSign(input, { canonicalization: 'relaxed/relaxed', signatureData: [{ signingDomain: domain, selector, privateKey: key.pem }] } as never);
  if (result.errors.length > 0) throw new Error(`signing failed: ${result.errors.map((e) => e.message).join('; ')}`);
  return Buffer.concat([Buffer.from(result.signatures), input]);
}

const PERL_VERIFY = String.raw`
use strict;
use warnings;
use JSON::PP;
use Mail::DKIM::Verifier;
use Mail::DKIM::DNS;
use Net::DNS::Resolver;
Mail::DKIM::DNS::resolver(Net::DNS::Resolver->new(nameservers => ['127.0.0.1'], port => $ENV{DNS_PORT}, recurse => 0, retry => 1, udp_timeout => 3, tcp_timeout => 3));
binmode STDIN;
my $dkim = Mail::DKIM::Verifier->new();
while (my $line = <STDIN>) {
  $line =~ s/\r?\n\z/\015\012/;
  $dkim->PRINT($line);
}
$dkim->CLOSE;
my @sigs = map { { result => $_->result, details => ($_->result_detail // ''), domain => ($_->domain // ''), selector => ($_->selector // '') } } $dkim->signatures;
print JSON::PP->new->canonical->encode({ result => $dkim->result, details => ($dkim->result_detail // ''), signatures => \@sigs }), "\n";
`;

export interface PerlVerdict {
  /** Mail::DKIM's overall result: pass, fail, invalid, temperror, none. */
  result: string;
  details: string;
  signatures: Array<{ result: string; details: string; domain: string; selector: string }>;
}

/** Verify `message` with Perl's Mail::DKIM::Verifier, looking keys up in the dnsmasq on `dnsPort`. */
export async function perlDkimVerify(message: Buffer, dnsPort: number): Promise<PerlVerdict> {
  const result = await run('perl', ['-e', PERL_VERIFY], { input: message.toString('latin1'), env: { DNS_PORT: String(dnsPort) }, timeoutMs: 20_000 });
  if (result.code !== 0) throw new Error(`perl Mail::DKIM exited ${result.code}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`);
  return JSON.parse(result.stdout.trim().split('\n').pop() ?? 'null') as PerlVerdict;
}

/**
 * `message` signed by OpenDKIM's `opendkim-testmsg` with the PEM key at `keyFile` (it signs
 * rsa-sha1, relaxed/simple: enough to show a key file works with OpenDKIM, not a model to follow).
 */
export async function opendkimSign(message: string, domain: string, selector: string, keyFile: string): Promise<Buffer> {
  const result = await run('opendkim-testmsg', ['-C', '-d', domain, '-s', selector, '-k', keyFile], { input: message, timeoutMs: 20_000 });
  if (result.code !== 0 || !result.stdout.startsWith('DKIM-Signature:')) {
    throw new Error(`opendkim-testmsg exited ${result.code}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`);
  }
  return Buffer.from(result.stdout, 'latin1');
}
