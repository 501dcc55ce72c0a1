import type { EnvelopeAddress } from '@postern/sdk';
import type { SMTPServerAddress } from 'smtp-server';

/** smtp-server's parsed MAIL FROM / RCPT TO address, as the sdk's EnvelopeAddress. */
export function toEnvelopeAddress(parsed: SMTPServerAddress): EnvelopeAddress {
  const address = parsed.address ?? '';
  const at = address.lastIndexOf('@');
  const params: Record<string, string | true> = {};
  const args = parsed.args;
  if (args && typeof args === 'object') {
    for (const [key, value] of Object.entries(args)) params[key.toUpperCase()] = typeof value === 'string' ? value : true;
  }
  return { address, domain: at >= 0 ? address.slice(at + 1).toLowerCase() : '', params };
}
