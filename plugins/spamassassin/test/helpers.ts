import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { after, before } from 'node:test';
import { cleanupList, gtube, startSpamd } from '../../../test/support/index.js';
import type { SpamdServer } from '../../../test/support/index.js';

/**
 * One real spamd for the whole test file (it takes 1–3 s and ~120 MB to start): call at the top
 * level of the file, read `.server` inside the tests.
 */
export function sharedSpamd(): { server: SpamdServer } {
  const cleanup = cleanupList();
  const shared = {} as { server: SpamdServer };
  before(async () => {
    shared.server = await startSpamd(cleanup);
  });
  after(() => cleanup.run());
  return shared;
}

/** A message carrying GTUBE (SpamAssassin's test string: score 1000). */
export function gtubeMessage(): string {
  return [
    'From: Sender <sender@client.example.test>',
    'To: Ann <ann@example.test>',
    'Subject: gtube',
    'Date: Sun, 06 Dec 2026 10:00:00 +0000',
    'Message-ID: <gtube.1@client.example.test>',
    '',
    'This is the GTUBE, the',
    '  Generic',
    '  Test for',
    '  Unsolicited',
    '  Bulk',
    '  Email',
    '',
    gtube(),
    '',
  ].join('\r\n');
}

/** A plain, well-formed ham message: spamd scores it about 0. */
export function hamMessage(body = 'Hello Ann,\r\n\r\nare we still on for lunch tomorrow at noon?\r\n\r\nBob'): string {
  return [
    'From: Bob <bob@example.test>',
    'To: Ann <ann@example.test>',
    'Subject: lunch tomorrow',
    'Date: Sun, 06 Dec 2026 10:00:00 +0000',
    'Message-ID: <ham.1@example.test>',
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    '',
    body,
    '',
  ].join('\r\n');
}

/**
 * FAKE spamd, NOT SpamAssassin: a tiny TCP server that reads the request and then does `behave`
 * with the socket. Only for what a real spamd never does (garbage, a truncated reply, silence, a
 * reset). Closed after the test file.
 */
export async function fakeSpamd(behave: (socket: Socket, request: Buffer) => void): Promise<{ port: number; server: Server }> {
  // allowHalfOpen: the client's half-close must not close our side, as with spamd.
  const sockets = new Set<Socket>();
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    const chunks: Buffer[] = [];
    socket.on('error', () => {});
    socket.on('data', (c: Buffer) => chunks.push(c));
    // The client half-closes after the body: the whole request is in.
    socket.on('end', () => behave(socket, Buffer.concat(chunks)));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  after(() => {
    // A silent fake keeps its half of the connection open: close those too, or close() waits.
    for (const socket of sockets) socket.destroy();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const { port } = server.address() as { port: number };
  return { port, server };
}
