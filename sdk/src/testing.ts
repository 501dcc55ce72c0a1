/**
 * `@postern/sdk/testing`: test a plugin with plain `node --test`, no server. Kept out of the main
 * entry so the runtime never loads test code.
 * @example
 * import { createHarness } from '@postern/sdk/testing';
 */
export { createHarness } from './testing/harness.js';
export type { DeepPartial, Harness, HarnessInit, LogEntry } from './testing/harness.js';
export { HarnessError } from './testing/harness-error.js';
export { memoryKv } from './testing/memory-kv.js';
export type { RegisteredTap } from './testing/run-taps.js';
export type { DeliveryInit, Mutable, TestDelivery, TestSession, TestTransaction, TransactionInit } from './testing/fixtures.js';
