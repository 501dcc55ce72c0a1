import { createHarness } from '@postern/sdk/testing';
import type { DeepPartial } from '@postern/sdk/testing';
import plugin from '../src/index.js';
import type { AccessOptions } from '../src/index.js';

/** A harness for the access plugin with the given options. */
export function accessHarness(options: DeepPartial<AccessOptions> = {}) {
  return createHarness(plugin, { options });
}
