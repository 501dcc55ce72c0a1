import { randomBytes } from 'node:crypto';

/**
 * A small RFC 5322 message with CRLF line endings and a unique Message-ID, ending with CRLF. The
 * body has a line starting with a dot (dot-stuffing must be undone exactly) and a long-ish line.
 */
export function makeMessage(options: { from?: string; to?: string; subject?: string; body?: string; id?: string; padTo?: number } = {}): { id: string; text: string; bytes: Buffer } {
  const id = options.id ?? `${Date.now()}.${randomBytes(6).toString('hex')}@client.example.test`;
  const lines = [
    `From: ${options.from ?? 'Sender <sender@client.example.test>'}`,
    `To: ${options.to ?? 'Ann <ann@example.test>'}`,
    `Subject: ${options.subject ?? 'test message'}`,
    `Date: ${new Date().toUTCString().replace('GMT', '+0000')}`,
    `Message-ID: <${id}>`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    '',
    ...(options.body ?? 'Hello Ann,\r\n.a line that starts with a dot\r\n..and one with two\r\n\r\nbye').split('\r\n'),
  ];
  let text = `${lines.join('\r\n')}\r\n`;
  if (options.padTo !== undefined) {
    const filler = 'x'.repeat(76);
    while (Buffer.byteLength(text) + 78 <= options.padTo) text += `${filler}\r\n`;
  }
  return { id, text, bytes: Buffer.from(text, 'utf8') };
}

/** SMTP dot-stuffing of CRLF text: a line that starts with "." gets another one. */
export function dotStuff(text: string): string {
  return text.replace(/(^|\r\n)\./g, '$1..');
}
