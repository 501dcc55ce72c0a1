export * from './verdict.js';
export type * from './results.js';
export type * from './envelope.js';
export type * from './delivery.js';
export * from './hooks.js';
export * from './plugin.js';
export { MapResults } from './map-results.js';
export * from './manifest.js';
export * from './bundle-manifest.js';
