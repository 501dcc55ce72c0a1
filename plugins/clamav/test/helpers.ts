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
