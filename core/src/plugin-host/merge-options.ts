function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

function merge(base: Record<string, unknown>, over: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over)) {
    // A key the admin did not write leaves the preset alone; YAML `null` is written, so it replaces.
    if (value === undefined) continue;
    const current = out[key];
    out[key] = isPlainObject(current) && isPlainObject(value) ? merge(current, value) : value;
  }
  return out;
}

/**
 * A bundle plugin's options: the admin's `plugins.<name>` section over the bundle's preset, key by
 * key. Plain objects merge all the way down (the admin changes `exempt.authenticated` and keeps
 * the preset's `exempt.trusted`); anything else, arrays included, replaces the preset's value
 * whole, since merging two lists of networks has no answer that is right for every plugin.
 * Neither input is modified; the result shares nothing with them.
 * @example
 * mergeBundleOptions({ limit: 60, exempt: { trusted: true } }, { enabled: true, exempt: { authenticated: true } });
 * // { limit: 60, exempt: { trusted: true, authenticated: true }, enabled: true }
 */
export function mergeBundleOptions(
  preset: Readonly<Record<string, unknown>> | undefined,
  admin: Readonly<Record<string, unknown>> | undefined,
): Record<string, unknown> {
  return structuredClone(merge(preset ? { ...preset } : {}, admin ?? {}));
}
