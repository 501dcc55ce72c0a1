import nodemailer from 'nodemailer';
import { queueIdOf } from './smtp-raw.js';

export interface NodemailerSend {
  port: number;
  /** true: implicit TLS (465-style); false: plain connect, STARTTLS when offered. */
  secure?: boolean;
  requireTLS?: boolean;
  auth?: { user: string; pass: string };
  from: string;
  to: string[];
  /** The exact message; nodemailer dot-stuffs it on the wire. */
  raw: Buffer | string;
}

/**
 * Send one message with nodemailer (certificate not verified). Resolves with the 250 text and its
 * queue id; rejects with nodemailer's error (`responseCode`, `response`) on a refusal.
 */
export async function sendWithNodemailer(options: NodemailerSend): Promise<{ response: string; queueId: string | undefined; accepted: unknown[]; rejected: unknown[] }> {
  const transport = nodemailer.createTransport({
    host: '127.0.0.1',
    port: options.port,
    secure: options.secure ?? false,
    requireTLS: options.requireTLS ?? false,
    tls: { rejectUnauthorized: false, servername: 'mx.example.test' },
    ...(options.auth ? { auth: options.auth } : {}),
    name: 'nodemailer.client.test',
    connectionTimeout: 5000,
    greetingTimeout: 5000,
    socketTimeout: 10_000,
  });
  try {
    const info = await transport.sendMail({ envelope: { from: options.from, to: options.to }, raw: options.raw });
    return { response: info.response, queueId: queueIdOf(info.response), accepted: info.accepted, rejected: info.rejected };
  } finally {
    transport.close();
  }
}
