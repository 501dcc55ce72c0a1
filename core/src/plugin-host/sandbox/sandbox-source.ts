import { transformSync, type TransformFailure } from 'esbuild';
import { ErrorCode, PosternError } from '../../errors.js';

/**
 * esbuild options a sandboxed plugin's code must be built with. The plugin loader passes them to
 * its bundle step (with `bundle: true, external: ['@postern/sdk']`); loadSandboxedPlugin applies
 * them again to whatever it is given (a cheap no-op on code already built this way).
 *
 * - `format: 'cjs'`: the sandbox runs a CommonJS module function (vm2's VM has no ES modules).
 * - async/await, async generators and for-await lowered to generators: the sandbox has no native
 *   promise reactions (vm2 `allowAsync: false`), so that no sandbox code can run outside a
 *   watchdog-bounded call; `Promise` inside the module is the sandbox's own (sandbox-runtime.ts).
 * - `import()` turned into `require()`, which the sandbox refuses with a clear error.
 * - `target: 'es2022'`: vm2 parses sources with acorn at ecmaVersion 2022.
 * - `platform: 'neutral'`: Node built-ins are not resolvable, so a bundle that needs one fails at
 *   build time instead of at its first call.
 */
export const SANDBOX_BUILD_OPTIONS = Object.freeze({
  format: 'cjs',
  platform: 'neutral',
  target: 'es2022',
  supported: Object.freeze({ 'async-await': false, 'async-generator': false, 'for-await': false, 'dynamic-import': false }),
} as const);

/**
 * The parameters of the module function the sandbox calls, CommonJS's five plus `Promise`, which
 * shadows the realm's native (and disabled) Promise with the sandbox's own.
 */
const WRAPPER_HEAD = '(function (exports, require, module, __filename, __dirname, Promise) {';
const WRAPPER_TAIL = '\n})';

/**
 * Compile a plugin's JavaScript (ESM or CommonJS; TypeScript when the file name says so) into the
 * module-function expression the sandbox runs. A syntax error is a PLUGIN_LOAD_FAILED naming
 * file:line:column.
 */
export function toSandboxScript(source: string, filename: string, plugin: string): string {
  let code: string;
  try {
    code = transformSync(source, {
      ...SANDBOX_BUILD_OPTIONS,
      supported: { ...SANDBOX_BUILD_OPTIONS.supported },
      loader: /\.[cm]?tsx?$/.test(filename) ? 'ts' : 'js',
      sourcefile: filename,
      logLevel: 'silent',
    }).code;
  } catch (err) {
    const first = (err as Partial<TransformFailure>).errors?.[0];
    const where = first?.location ? `${first.location.file}:${first.location.line}:${first.location.column}: ` : '';
    const text = first?.text ?? (err as Error).message;
    throw new PosternError(ErrorCode.PLUGIN_LOAD_FAILED, `plugin ${plugin}: ${where}${text}`, { plugin, file: filename }, { cause: err });
  }
  return `${WRAPPER_HEAD}${code}${WRAPPER_TAIL}`;
}
