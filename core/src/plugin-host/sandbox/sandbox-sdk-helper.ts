import { createRequire } from 'node:module';
import { DeliverStage, DELIVERY_HOOKS, EVENT_HOOKS, POLICY_HOOKS, Stage } from '@postern/sdk';
import { RUNTIME_SOURCE, type SandboxRuntime } from './sandbox-runtime.js';

// vm2 is loaded here only when this is called (tests): the server runs vm2 in workers only.
const require = createRequire(import.meta.url);

/**
 * Run one of the sandbox stub's verdict helpers (accept, reject, ...) and return its result as
 * host data. For the test that keeps the stub in step with sdk/src/verdict.ts. It runs the runtime
 * in a vm2 VM on the calling thread: no plugin code is involved.
 */
export function sandboxSdkHelper(name: string, args: unknown[]): unknown {
  const { VM } = require('vm2') as typeof import('vm2');
  const vm = new VM({ allowAsync: false, eval: false, wasm: false });
  const factory = vm.run(RUNTIME_SOURCE, 'postern-sandbox-runtime.js') as (host: unknown, configJson: string) => SandboxRuntime;
  const config = JSON.stringify({ name: 'x', grants: {}, codes: {}, limits: {}, sdk: { Stage, DeliverStage, POLICY_HOOKS, DELIVERY_HOOKS, EVENT_HOOKS } });
  const answer = factory({ settle() {}, registerTap: () => '', registerShutdown: () => '' }, config).sdkHelper(name, JSON.stringify(args));
  return JSON.parse((answer as string).slice(1)) as unknown;
}
