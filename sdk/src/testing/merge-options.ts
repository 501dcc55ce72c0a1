/** Plain objects (from YAML or literals) are merged key by key; everything else replaces. */
function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/**
 * Merge the admin's options over a plugin's defaults: nested sections are merged key by key so
 * `allow: { networks: [...] }` keeps the default `allow.senders`; arrays are replaced, never
 * concatenated, so an admin can empty a default list. Neither input is modified.
 */
export function mergeOptions(defaults: unknown, options: unknown): unknown {
  if (options === undefined) return clone(defaults);
  if (!isPlainObject(defaults) || !isPlainObject(options)) return clone(options);
  const merged: Record<string, unknown> = clone(defaults) as Record<string, unknown>;
  for (const [key, value] of Object.entries(options)) merged[key] = mergeOptions(defaults[key], value);
  return merged;
}

/** Copy plain objects and arrays so a plugin that mutates its options cannot change the defaults. */
function clone(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(clone);
  if (isPlainObject(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, clone(v)]));
  return value;
}
