import { describe, expect, it } from 'vitest';
import { InboundPayloadError } from '../../../../src/platforms/notifications/inbound/inbound-event.js';
import {
  computeTwilioSignature,
  parseTwilioStatus,
  verifyTwilioSignature,
} from '../../../../src/platforms/notifications/inbound/twilio-status.js';

// The vector from Twilio's request-validation documentation (see /work/shared/contracts/README.md).
const vector = {
  authToken: '12345',
  url: 'https://mycompany.com/myapp.php?foo=1&bar=2',
  params: { CallSid: 'CA1234567890ABCDE', Caller: '+12349013030', Digits: '1234', From: '+12349013030', To: '+18005551212' },
  signature: '0/KCTR6DLpKmkAf8muzZqo1nDgQ=',
};

describe('verifyTwilioSignature', () => {
  it("verifies Twilio's published vector", () => {
    expect(computeTwilioSignature(vector.authToken, vector.url, vector.params)).toBe(vector.signature);
    expect(verifyTwilioSignature(vector)).toEqual({ ok: true });
  });

  it('does not depend on the order the parameters arrive in', () => {
    const reversed = Object.fromEntries(Object.entries(vector.params).reverse());
    expect(verifyTwilioSignature({ ...vector, params: reversed })).toEqual({ ok: true });
  });

  it('fails for a tampered, missing or added parameter, another URL, token or signature', () => {
    const failing = [
      { ...vector, params: { ...vector.params, Digits: '1235' } },
      { ...vector, params: { ...vector.params, To: '+18005551213' } },
      { ...vector, params: (({ Digits: _digits, ...rest }) => rest)(vector.params) },
      { ...vector, params: { ...vector.params, MessageStatus: 'delivered' } },
      { ...vector, url: 'https://mycompany.com/myapp.php?foo=1&bar=3' },
      { ...vector, url: 'http://mycompany.com/myapp.php?foo=1&bar=2' },
      { ...vector, authToken: '123456' },
      { ...vector, signature: '1/KCTR6DLpKmkAf8muzZqo1nDgQ=' },
      { ...vector, signature: vector.signature.slice(0, -1) },
    ];
    for (const input of failing) expect(verifyTwilioSignature(input)).toEqual({ ok: false, reason: 'signature mismatch' });
  });

  it('accepts a signature made over the URL with or without the default port, as the SDKs do', () => {
    const withPort = 'https://mycompany.com:443/myapp.php?foo=1&bar=2';
    const signedWithPort = computeTwilioSignature(vector.authToken, withPort, vector.params);
    expect(verifyTwilioSignature({ ...vector, signature: signedWithPort })).toEqual({ ok: true });
    expect(verifyTwilioSignature({ ...vector, url: withPort })).toEqual({ ok: true });
    const otherPort = 'https://mycompany.com:8443/myapp.php?foo=1&bar=2';
    expect(verifyTwilioSignature({ ...vector, url: otherPort }).ok).toBe(false);
  });

  it('signs repeated parameters value by value, sorted', () => {
    const params = { B: ['2', '1'], A: 'x' };
    const expected = computeTwilioSignature('tok', 'https://h.example/cb', { A: 'x', B: ['1', '2'] });
    expect(verifyTwilioSignature({ authToken: 'tok', url: 'https://h.example/cb', params, signature: expected })).toEqual({ ok: true });
  });

  it('never throws on garbage, and says why', () => {
    const cases: Array<[unknown, RegExp]> = [
      [{ ...vector, authToken: '' }, /no auth token/],
      [{ ...vector, signature: undefined }, /missing signature/],
      [{ ...vector, signature: '   ' }, /missing signature/],
      [{ ...vector, url: '' }, /missing URL/],
      [{ ...vector, params: null }, /parameters must be an object/],
      [{ ...vector, params: ['a'] }, /parameters must be an object/],
      [{ ...vector, params: { A: 5 } }, /could not be verified/],
      [{ ...vector, signature: 'x'.repeat(10_000) }, /signature mismatch/],
      [{ ...vector, url: 'not a url' }, /signature mismatch/],
      [null, /could not be verified/],
    ];
    for (const [input, reason] of cases) {
      const result = verifyTwilioSignature(input as never);
      expect(result.ok).toBe(false);
      expect(result.ok === false && result.reason).toMatch(reason);
    }
  });
});

// Status callback bodies shaped like Twilio's documentation: a subset of the message properties plus MessageStatus
// and ErrorCode. The notification id is in the StatusCallback URL.
const sid = 'SM1f0e3c5b9a7d4e2f8c6b4a2d0e9f7c5a';
const nid = '3a8f2c4e-1b6d-4e9a-8c7f-5d2e1a0b9c8d';
const callbackUrl = `https://api.vieux-moulin.example/webhooks/twilio/status?notification_id=${nid}`;
const callback = (status: string, extra: Record<string, string> = {}) => ({
  AccountSid: 'AC0123456789abcdef0123456789abcdef',
  ApiVersion: '2010-04-01',
  From: '+33612345678',
  To: '+33698765432',
  MessageSid: sid,
  SmsSid: sid,
  MessageStatus: status,
  SmsStatus: status,
  ...extra,
});
const now = new Date('2025-03-01T12:00:00.000Z');

describe('parseTwilioStatus', () => {
  it('maps sent, delivered, undelivered, failed, read and canceled', () => {
    const parse = (status: string, extra?: Record<string, string>) => parseTwilioStatus(callback(status, extra), { url: callbackUrl, now });
    expect(parse('sent')).toMatchObject({ provider: 'twilio', kind: 'sent', providerMessageId: sid, notificationId: nid, occurredAt: now.toISOString() });
    const delivered = parse('delivered', { RawDlrDoneDate: '2503011159' });
    expect(delivered).toMatchObject({ kind: 'delivered' });
    expect(delivered!.raw).toMatchObject({ RawDlrDoneDate: '2503011159', MessageStatus: 'delivered' });
    expect(delivered!.hard).toBeUndefined();
    expect(parse('undelivered', { ErrorCode: '30003' })).toMatchObject({ kind: 'failed', hard: false, reason: 'Twilio error 30003' });
    expect(parse('undelivered', { ErrorCode: '30005', ErrorMessage: 'Unknown destination handset' })).toMatchObject({
      kind: 'failed',
      hard: true,
      reason: 'Twilio error 30005: Unknown destination handset',
    });
    expect(parse('failed', { ErrorCode: '30006' })).toMatchObject({ kind: 'failed', hard: true });
    expect(parse('failed')).toMatchObject({ kind: 'failed', hard: false, reason: 'failed' });
    expect(parse('read')).toMatchObject({ kind: 'opened' });
    expect(parse('canceled')).toMatchObject({ kind: 'failed', reason: 'canceled' });
  });

  it('returns null for states that record nothing, and for statuses Twilio may add', () => {
    for (const status of ['queued', 'accepted', 'scheduled', 'sending', 'receiving', 'received', 'teleported', 'constructor']) {
      expect(parseTwilioStatus(callback(status)), status).toBeNull();
    }
  });

  it('gives the same event id to a redelivered callback, a different one per status', () => {
    const a = parseTwilioStatus(callback('delivered'), { now: new Date('2025-01-01T00:00:00Z') })!;
    const b = parseTwilioStatus({ ...callback('delivered'), NewParam: 'x' }, { now: new Date('2025-01-01T00:05:00Z') })!;
    const c = parseTwilioStatus(callback('sent'))!;
    expect(a.providerEventId).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(b.providerEventId).toBe(a.providerEventId);
    expect(c.providerEventId).not.toBe(a.providerEventId);
  });

  it('takes the notification id from the callback URL, or from the params, and the legacy SmsSid/SmsStatus', () => {
    expect(parseTwilioStatus(callback('sent'))!.notificationId).toBeUndefined();
    expect(parseTwilioStatus({ ...callback('sent'), notification_id: nid })!.notificationId).toBe(nid);
    expect(parseTwilioStatus(callback('sent'), { url: 'https://h.example/cb?notificationId=abc' })!.notificationId).toBe('abc');
    expect(parseTwilioStatus(callback('sent'), { url: 'not a url' })!.notificationId).toBeUndefined();
    expect(parseTwilioStatus({ SmsSid: sid, SmsStatus: 'delivered' })).toMatchObject({ kind: 'delivered', providerMessageId: sid });
  });

  it('keeps secret-looking parameters out of raw', () => {
    const event = parseTwilioStatus({ ...callback('sent'), token: 'our-secret', AuthToken: 'x' })!;
    expect(event.raw).not.toHaveProperty('token');
    expect(event.raw).not.toHaveProperty('AuthToken');
    expect(event.raw).toHaveProperty('AccountSid');
  });

  it('refuses malformed callbacks with InboundPayloadError naming the field', () => {
    const cases: Array<[unknown, string]> = [
      [{}, 'MessageSid'],
      [{ MessageStatus: 'delivered' }, 'MessageSid'],
      [{ MessageSid: '  ', MessageStatus: 'delivered' }, 'MessageSid'],
      [{ MessageSid: 'not-a-sid', MessageStatus: 'delivered' }, 'MessageSid'],
      [{ MessageSid: 'SM' + 'f'.repeat(300), MessageStatus: 'delivered' }, 'MessageSid'],
      [{ MessageSid: [sid, sid], MessageStatus: 'delivered' }, 'MessageSid'],
      [{ MessageSid: 42, MessageStatus: 'delivered' }, 'MessageSid'],
      [{ MessageSid: sid }, 'MessageStatus'],
      [{ MessageSid: sid, MessageStatus: '' }, 'MessageStatus'],
      [{ MessageSid: sid, MessageStatus: ['sent', 'delivered'] }, 'MessageStatus'],
      [null, 'body'],
      ['MessageSid=SM1', 'body'],
      [[sid], 'body'],
    ];
    for (const [params, field] of cases) {
      let error: unknown;
      try {
        parseTwilioStatus(params as never);
      } catch (caught) {
        error = caught;
      }
      expect(error, JSON.stringify(params)).toBeInstanceOf(InboundPayloadError);
      expect((error as InboundPayloadError).field).toBe(field);
    }
  });
});
