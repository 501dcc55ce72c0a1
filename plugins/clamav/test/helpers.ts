import { createHarness } from '@postern/sdk/testing';
import type { DeepPartial } from '@postern/sdk/testing';
import { createClamavPlugin } from '../src/index.js';
import type { ClamavOptions, Scan, ScanResult } from '../src/index.js';

/** What the fake scanner does for every message: answer, fail, or never answer. */
export type FakeBehaviour = ScanResult | { error: string } | 'hang';

/** A Scan that records the messages it was given and does `behaviour`. */
export function fakeScanner(behaviour: FakeBehaviour) {
  const scanned: Buffer[] = [];
  const scan: Scan = async (message) => {
    scanned.push(message);
    if (behaviour === 'hang') return new Promise<ScanResult>(() => {});
    if ('error' in behaviour) throw new Error(behaviour.error);
    return behaviour;
  };
  return { scan, scanned };
}

/** A harness for the clamav plugin with a fake scanner; `seen` holds the options the scanner was made with. */
export async function clamavHarness(options: DeepPartial<ClamavOptions>, behaviour: FakeBehaviour = { infected: false, viruses: [] }) {
  const fake = fakeScanner(behaviour);
  const seen: Array<Readonly<ClamavOptions>> = [];
  const plugin = createClamavPlugin((o) => {
    seen.push(o);
    return fake.scan;
  });
  const h = await createHarness(plugin, { options });
  return Object.assign(h, { scanned: fake.scanned, seen });
}

export const MESSAGE = 'From: a@example.test\nTo: ann@example.test\nSubject: hi\n\nhello\n';

/** One MIME entity, parsed just enough for the tests: unfolded headers (lower-case names) and the raw body. */
export interface Entity {
  headers: Map<string, string>;
  /** The body as latin1 text (bytes kept). */
  body: string;
}

/** Split a message (CRLF) into its headers and body. */
export function parseEntity(message: Buffer | string): Entity {
  const text = typeof message === 'string' ? message : message.toString('latin1');
  const end = text.indexOf('\r\n\r\n');
  const head = end === -1 ? text : text.slice(0, end);
  const headers = new Map<string, string>();
  for (const field of head.replace(/\r\n(?=[ \t])/g, '').split('\r\n')) {
    const colon = field.indexOf(':');
    if (colon > 0) {
      const name = field.slice(0, colon).trim().toLowerCase();
      if (!headers.has(name)) headers.set(name, field.slice(colon + 1).trim());
    }
  }
  return { headers, body: end === -1 ? '' : text.slice(end + 4) };
}

/** The parts of a multipart entity (its boundary from Content-Type). */
export function mimeParts(entity: Entity): Entity[] {
  const boundary = /boundary="?([^";]+)"?/i.exec(entity.headers.get('content-type') ?? '')?.[1];
  if (boundary === undefined) throw new Error('not multipart');
  const chunks = `\r\n${entity.body}`.split(`\r\n--${boundary}`);
  const parts: Entity[] = [];
  for (const chunk of chunks.slice(1)) {
    if (chunk.startsWith('--')) break;
    parts.push(parseEntity(chunk.replace(/^[ \t]*\r\n/, '')));
  }
  return parts;
}

/** A message with `data` attached as a base64 application/octet-stream part named `filename`. */
export function withAttachment(data: Buffer, filename: string, subject = 'attached'): Buffer {
  const boundary = 'b1_test_boundary';
  const b64 = data.toString('base64').replace(/.{1,76}/g, '$&\r\n');
  const text = [
    'From: Mallory <mallory@sender.test>',
    'To: Ann <ann@example.test>',
    `Subject: ${subject}`,
    'Date: Sun, 06 Dec 2026 10:00:00 +0000',
    'Message-ID: <sample.1@sender.test>',
    'MIME-Version: 1.0',
    `Content-Type: multipart/mixed; boundary="${boundary}"`,
    '',
    `--${boundary}`,
    'Content-Type: text/plain; charset=utf-8',
    '',
    'see the attachment',
    `--${boundary}`,
    `Content-Type: application/octet-stream; name="${filename}"`,
    `Content-Disposition: attachment; filename="${filename}"`,
    'Content-Transfer-Encoding: base64',
    '',
    `${b64}--${boundary}--`,
    '',
  ].join('\r\n');
  return Buffer.from(text, 'latin1');
}
