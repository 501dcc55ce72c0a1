import type { Delivery, DeliveryEvent, DeliveryRecipient, DeliveryResult, ResultsStore } from '@postern/sdk';
import { MapResults } from '@postern/sdk';
import type { SpoolEnvelope } from '../spool/spool.js';

/** The Delivery a `deliver` tap gets: one attempt at one spooled message. */
export class MessageDelivery implements Delivery {
  readonly id: string;
  readonly sender: string;
  readonly receivedAt: number;
  readonly recipients: DeliveryRecipient[];
  readonly message: Buffer;
  readonly attempt: number;
  readonly results: ResultsStore;

  constructor(envelope: SpoolEnvelope, message: Buffer, recipients: DeliveryRecipient[], attempt: number) {
    this.id = envelope.id;
    this.sender = envelope.sender;
    this.receivedAt = envelope.receivedAt;
    this.message = message;
    this.attempt = attempt;
    this.recipients = recipients;
    const results = new MapResults();
    for (const [key, value] of Object.entries(envelope.results ?? {})) results.set(key, value);
    this.results = results;
  }

  pending(): DeliveryRecipient[] {
    return this.recipients.filter((r) => r.result === undefined);
  }

  settle(recipient: DeliveryRecipient, result: DeliveryResult): void {
    if (recipient.result) return;
    recipient.result = result;
  }

  add(address: string, original: string): DeliveryRecipient {
    const existing = this.recipients.find((r) => r.address.toLowerCase() === address.toLowerCase() && r.result === undefined);
    if (existing) return existing;
    const recipient: DeliveryRecipient = { original, address };
    this.recipients.push(recipient);
    return recipient;
  }

  /** The event payload for the recipients whose result has `status`. */
  eventFor(status: DeliveryResult['status'] | 'pending'): DeliveryEvent | undefined {
    const matching = this.recipients.filter((r) => (status === 'pending' ? r.result === undefined : r.result?.status === status));
    if (matching.length === 0) return undefined;
    return {
      id: this.id,
      sender: this.sender,
      recipients: matching.map((r) => (r.result ? { address: r.address, result: r.result } : { address: r.address })),
      size: this.message.length,
      attempt: this.attempt,
    };
  }
}
