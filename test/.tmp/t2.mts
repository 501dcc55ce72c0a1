import { loadSandboxedPlugin } from '../../core/src/plugin-host/sandbox/index.js';
const p = await loadSandboxedPlugin(`module.exports = { name: 'x', validate() { return ['a']; }, setup() {} };`, 'x.cjs', {}, { plugin: 'x' });
console.log('A', process.getActiveResourcesInfo());
console.log(await p.validate?.({}));
console.log('B', process.getActiveResourcesInfo());
await new Promise((r) => setTimeout(r, 2000));
console.log('C', process.getActiveResourcesInfo());
if (process.argv[2]) p.dispose();
setTimeout(() => console.log('D', process.getActiveResourcesInfo()), 500).unref();
