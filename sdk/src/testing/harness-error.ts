/**
 * The error the harness throws. Its codes are the core's catalogue codes for the same failures
 * (core/src/errors.ts), so a plugin's tests assert the same code the server would log.
 * @example
 * await assert.rejects(createHarness(plugin, { options: { limit: 0 } }), (err) =>
 *   err instanceof HarnessError && err.code === 'POSTERN_PLUGIN_OPTIONS_INVALID' && err.errors[0] === 'limit: must be an integer >= 1');
 */
export class HarnessError extends Error {
  readonly code: 'POSTERN_PLUGIN_OPTIONS_INVALID' | 'POSTERN_PLUGIN_TAP_TIMEOUT' | 'POSTERN_PLUGIN_BAD_VERDICT' | 'POSTERN_PLUGIN_LOAD_FAILED';
  /** For POSTERN_PLUGIN_OPTIONS_INVALID: what `validate()` returned, one "key: reason" per entry. */
  readonly errors: readonly string[];

  constructor(code: HarnessError['code'], message: string, errors: readonly string[] = []) {
    super(message);
    this.name = 'HarnessError';
    this.code = code;
    this.errors = errors;
  }
}
