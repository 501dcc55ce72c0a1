import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { configTemplate } from '../core/src/cli/config-template.js';
import { parseConfig } from '../core/src/config/load-config.js';

const shipped = new URL('../config/postern.yaml', import.meta.url);

test('config/postern.yaml is valid and is what postern init writes', () => {
  const text = readFileSync(shipped, 'utf8');
  assert.equal(text, configTemplate('mail.example.com'), 'regenerate config/postern.yaml from core/src/cli/config-template.ts');
  const config = parseConfig(text, shipped.pathname);
  assert.deepEqual(
    config.smtp.listeners.map((l) => [l.name, l.port, l.tls, l.auth]),
    [
      ['mx', 25, 'starttls', 'none'],
      ['submission', 587, 'starttls', 'required'],
      ['submissions', 465, 'implicit', 'required'],
    ],
  );
  assert.deepEqual(config.relay.trustedNetworks, [], 'no relay without AUTH by default');
  assert.equal(config.plugins.entries.access?.enabled, true);
  assert.equal(config.plugins.entries['rate-limit']?.enabled, true);
});
