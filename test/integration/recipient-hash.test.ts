import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { consentStreamId } from '../../src/domain/consent.js';
import { recipientHash, recipientHashSchema } from '../../src/integration/recipient-hash.js';

describe('recipientHash', () => {
  it('is the sha256 of the normalized address and the channel, which a CRM can compute', () => {
    const expected = createHash('sha256').update('marie.dupont@example.fr:email').digest('hex');
    expect(recipientHash('  Marie.Dupont@Example.fr ', 'email')).toBe(expected);
    expect(recipientHashSchema.parse(expected)).toBe(expected);
  });

  it('is the id of the recipient consent stream, so consent events aggregate_id matches it', () => {
    expect(`consent-${recipientHash('+33612345678', 'sms')}`).toBe(consentStreamId('+33612345678', 'sms'));
  });

  it('differs per channel', () => {
    expect(recipientHash('+33612345678', 'sms')).not.toBe(recipientHash('+33612345678', 'push'));
  });
});
