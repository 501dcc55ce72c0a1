import { createHarness, memoryKv } from '@postern/sdk/testing';
import type { DeepPartial } from '@postern/sdk/testing';
import { createGreylist } from '../src/index.js';
import type { GreylistOptions, GreylistResult } from '../src/index.js';

export const SEC = 1000;
export const HOUR = 3600 * SEC;
export const DAY = 24 * HOUR;

/**
 * A harness whose plugin and kv share one clock; `advance(ms)` moves it. `rcpt` runs one RCPT TO
 * in a fresh transaction and returns the verdict and the recorded result.
 */
export async function greylistHarness(options: DeepPartial<GreylistOptions> = {}) {
  let now = Date.UTC(2026, 0, 1);
  const clock = () => now;
  const h = await createHarness(createGreylist(clock), { options, kv: memoryKv(clock) });
  return {
    h,
    advance(ms: number) {
      now += ms;
    },
    async rcpt(init: { from?: string; to?: string; ip?: string; session?: ReturnType<typeof h.session>; tx?: ReturnType<typeof h.transaction> } = {}) {
      const session = init.session ?? h.session({ remoteAddress: init.ip ?? '192.0.2.10' });
      const tx = init.tx ?? h.transaction({ mailFrom: init.from ?? 'alice@sender.test' });
      const verdict = await h.run('rcptTo', session, tx, h.address(init.to ?? 'bob@example.test'));
      return { verdict, result: tx.results.get<GreylistResult>('greylist') };
    },
  };
}
