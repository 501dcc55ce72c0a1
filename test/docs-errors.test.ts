import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { ErrorCode } from '../core/src/errors.js';

// The error catalogue and its page must not drift apart: every code is documented, and the page
// names no code that does not exist.
test('docs/reference/errors.md documents exactly the codes of core/src/errors.ts', () => {
  const page = readFileSync(new URL('../docs/reference/errors.md', import.meta.url), 'utf8');
  const documented = new Set([...page.matchAll(/`(POSTERN_[A-Z_]+)`/g)].map((m) => m[1]));
  const codes = new Set(Object.values(ErrorCode));
  for (const code of codes) assert.ok(documented.has(code), `${code} is not in docs/reference/errors.md`);
  for (const code of documented) assert.ok(codes.has(code as (typeof ErrorCode)[keyof typeof ErrorCode]), `${code} is documented but does not exist`);
});
