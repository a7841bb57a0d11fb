import { z } from 'zod';
import { consentStreamId } from '../domain/consent.js';
import type { NotificationChannel } from '../domain/notification-events.js';

/**
 * Integration events name a recipient by this hash, never by the address: the event stream is kept for months and read
 * by several modules, and most of them have no use for an e-mail address or a phone number. The CRM, which knows its
 * customers' addresses, computes the same value to match an event to a customer:
 *
 *   sha256_hex(lower(trim(address)) + ":" + channel)        e.g. sha256_hex("marie@example.fr:email")
 *
 * It is the id of the recipient's consent stream too, so consent events' aggregate_id is the same value. It is a
 * pseudonym, not anonymisation (a phone number can be found again by trying them all): the stream stays internal.
 */
export function recipientHash(recipient: string, channel: NotificationChannel): string {
  return consentStreamId(recipient, channel).slice('consent-'.length);
}

export const recipientHashSchema = z
  .string()
  .regex(/^[0-9a-f]{64}$/)
  .describe('sha256 hex of the lower-cased, trimmed address, a colon and the channel ("marie@example.fr:email")');
