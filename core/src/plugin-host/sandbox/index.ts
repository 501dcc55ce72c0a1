/**
 * Sandboxed (untrusted) plugins: vm2 in a worker thread per plugin, with only the capabilities
 * granted. See docs/reference/sandbox.md for the threat model and what the sandbox does and does
 * not stop.
 */
export { loadSandboxedPlugin, type SandboxedPlugin, type SandboxOptions } from './sandboxed-plugin.js';
export { sandboxSdkHelper } from './sandbox-sdk-helper.js';
export { DEFAULT_MEMORY_MB, reserveThreads as reserveSandboxThreads } from './thread-pool.js';
export { checkGrants, effectiveGrants, parseNetGrant, type NetTarget, type SandboxGrants } from './grants.js';
export { MemoryKvStore, type KvStore, type MemoryKvStoreOptions } from './kv-store.js';
export { createSandboxResolver, type DnsSettings, type SandboxDnsResolver } from './dns-resolver.js';
export { SANDBOX_BUILD_OPTIONS } from './sandbox-source.js';
