import { loadSandboxedPlugin } from '../../core/src/plugin-host/sandbox/index.js';
const t = performance.now();
const p = await loadSandboxedPlugin(`module.exports = { name: 'x', validate() { return ['a']; }, setup() {} };`, 'x.cjs', {}, { plugin: 'x' });
console.log('loaded', performance.now() - t);
console.log(await p.validate?.({}));
p.dispose();
