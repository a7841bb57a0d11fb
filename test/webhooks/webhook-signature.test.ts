import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { signWebhook, verifyWebhookSignature } from '../../src/webhooks/webhook-signature.js';

describe('webhook signature', () => {
  const secret = 'whsec_0123456789abcdef';
  const body = '{"event_type":"publication_success","timestamp":"2025-04-12T15:30:45Z","data":{}}';
  const now = new Date('2025-04-12T15:30:50Z');
  const timestamp = Math.floor(now.getTime() / 1000) - 5;

  it('is v1=<hex HMAC-SHA256 of "<timestamp>.<body>">', () => {
    const expected = createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
    expect(signWebhook(secret, timestamp, body)).toBe(`v1=${expected}`);
  });

  it('verifies a genuine signature, from a string or a Buffer body', () => {
    const header = signWebhook(secret, timestamp, body);
    expect(verifyWebhookSignature(secret, String(timestamp), body, header, { now })).toBe(true);
    expect(verifyWebhookSignature(secret, timestamp, Buffer.from(body), header, { now })).toBe(true);
  });

  it('refuses another secret, a changed body, a changed timestamp and malformed headers', () => {
    const header = signWebhook(secret, timestamp, body);
    expect(verifyWebhookSignature('another-secret-of-16', timestamp, body, header, { now })).toBe(false);
    expect(verifyWebhookSignature(secret, timestamp, body.replace('success', 'failure'), header, { now })).toBe(false);
    expect(verifyWebhookSignature(secret, timestamp + 1, body, header, { now })).toBe(false);
    expect(verifyWebhookSignature(secret, timestamp, body, undefined, { now })).toBe(false);
    expect(verifyWebhookSignature(secret, timestamp, body, 'v1=zz', { now })).toBe(false);
    expect(verifyWebhookSignature(secret, 'soon', body, header, { now })).toBe(false);
  });

  it('refuses a timestamp outside the tolerance unless the check is off', () => {
    const old = timestamp - 3600;
    const header = signWebhook(secret, old, body);
    expect(verifyWebhookSignature(secret, old, body, header, { now })).toBe(false);
    expect(verifyWebhookSignature(secret, old, body, header, { now, toleranceSeconds: 0 })).toBe(true);
  });

  it('accepts any one of several comma-separated signatures', () => {
    const header = `v1=${'0'.repeat(64)}, ${signWebhook(secret, timestamp, body)}`;
    expect(verifyWebhookSignature(secret, timestamp, body, header, { now })).toBe(true);
  });
});
