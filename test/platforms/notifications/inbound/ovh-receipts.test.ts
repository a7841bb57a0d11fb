import { describe, expect, it } from 'vitest';
import { InboundPayloadError, verifyCallbackToken } from '../../../../src/platforms/notifications/inbound/inbound-event.js';
import { parseOvhDate, parseOvhReceipt } from '../../../../src/platforms/notifications/inbound/ovh-receipts.js';

describe('verifyCallbackToken', () => {
  const expected = 'k3y-0f-the-callback-url-5f1e0c9a';

  it('accepts the token, as a string or a one-element array', () => {
    expect(verifyCallbackToken({ expected, given: expected })).toEqual({ ok: true });
    expect(verifyCallbackToken({ expected, given: [expected] })).toEqual({ ok: true });
  });

  it('refuses anything else without throwing', () => {
    const cases: Array<[unknown, RegExp]> = [
      [`${expected}x`, /mismatch/],
      [expected.slice(1), /mismatch/],
      [expected.toUpperCase(), /mismatch/],
      ['', /missing/],
      [undefined, /missing/],
      [null, /missing/],
      [42, /missing/],
      [[expected, expected], /missing/],
      [{ token: expected }, /missing/],
    ];
    for (const [given, reason] of cases) {
      const result = verifyCallbackToken({ expected, given });
      expect(result.ok, String(given)).toBe(false);
      expect(result.ok === false && result.reason).toMatch(reason);
    }
    expect(verifyCallbackToken({ expected: '', given: '' })).toEqual({ ok: false, reason: 'no callback token configured' });
    expect(verifyCallbackToken(undefined as never).ok).toBe(false);
  });
});

// The query string OVH appends to the callback URL (id, ptt, date, description, descriptionDlr), plus our token.
const receipt = (extra: Record<string, string>) => ({ token: 'our-secret-token', id: '10867690', date: '2025-03-01 14:05:00', ...extra });
const now = new Date('2025-03-01T15:00:00.000Z');

describe('parseOvhReceipt', () => {
  it('maps the documented ptt codes and DLR states', () => {
    const parse = (extra: Record<string, string>) => parseOvhReceipt(receipt(extra), { now });
    expect(parse({ ptt: '4', description: '1', descriptionDlr: 'Success' })).toMatchObject({
      provider: 'ovh',
      providerMessageId: '10867690',
      kind: 'delivered',
      occurredAt: '2025-03-01T13:05:00.000Z',
    });
    expect(parse({ ptt: '3', description: '0' })).toMatchObject({ kind: 'sent' });
    expect(parse({ ptt: '1', description: '8' })).toMatchObject({ kind: 'deferred', reason: expect.stringMatching(/^ptt 1: .*retried/) });
    expect(parse({ ptt: '2', description: '4' })).toMatchObject({ kind: 'deferred', reason: expect.stringMatching(/^ptt 2: /) });
    expect(parse({ ptt: '23', description: '2' })).toMatchObject({
      kind: 'failed',
      hard: true,
      reason: 'ptt 23: incorrect, invalid, blacklisted or permanently barred number',
    });
    expect(parse({ ptt: '27', description: '2' })).toMatchObject({ kind: 'failed', hard: true });
    for (const ptt of ['5', '8', '20', '21', '24', '25', '26', '28', '29', '33', '39', '73', '74', '76', '202']) {
      expect(parse({ ptt, description: '2' }), ptt).toMatchObject({ kind: 'failed', hard: false, reason: expect.stringMatching(`^ptt ${ptt}: `) });
    }
    expect(parse({ ptt: '6' })).toMatchObject({ kind: 'sent' });
    expect(parse({ description: '16' })).toMatchObject({ kind: 'failed', hard: false, reason: 'DLR error (not billed)' });
    expect(parse({ description: '1' })).toMatchObject({ kind: 'delivered' });
  });

  it('uses whichever of description / descriptionDlr is numeric, or the state name', () => {
    expect(parseOvhReceipt(receipt({ description: 'Success', descriptionDlr: '1' }))).toMatchObject({ kind: 'delivered' });
    expect(parseOvhReceipt(receipt({ descriptionDlr: 'Buffered' }))).toMatchObject({ kind: 'deferred' });
  });

  it('lets a final DLR state win over a contradicting ptt, and falls back to the DLR state for unknown ptt codes', () => {
    expect(parseOvhReceipt(receipt({ ptt: '4', description: '2' }))).toMatchObject({ kind: 'failed', hard: false, reason: 'ptt 4, DLR failed' });
    expect(parseOvhReceipt(receipt({ ptt: '999', description: '4' }))).toMatchObject({ kind: 'deferred', reason: 'ptt 999, DLR waiting' });
  });

  it('reads the DLR date in the forms OVH may use, and falls back to the time of receipt', () => {
    expect(parseOvhReceipt(receipt({ ptt: '4', date: '2025-07-01 14:05:00' })).occurredAt).toBe('2025-07-01T12:05:00.000Z');
    expect(parseOvhReceipt(receipt({ ptt: '4', date: '2025-07-01T14:05' })).occurredAt).toBe('2025-07-01T12:05:00.000Z');
    expect(parseOvhReceipt(receipt({ ptt: '4', date: '1740837900' })).occurredAt).toBe('2025-03-01T14:05:00.000Z');
    expect(parseOvhReceipt(receipt({ ptt: '4', date: '1740837900000' })).occurredAt).toBe('2025-03-01T14:05:00.000Z');
    expect(parseOvhReceipt(receipt({ ptt: '4', date: '2025-03-01T14:05:00+01:00' })).occurredAt).toBe('2025-03-01T13:05:00.000Z');
    expect(parseOvhReceipt(receipt({ ptt: '4', date: 'hier' }), { now }).occurredAt).toBe(now.toISOString());
    expect(parseOvhReceipt({ id: '1', ptt: '4' }, { now }).occurredAt).toBe(now.toISOString());
    // Paris wall clock around the DST changes: 30 March 2025 02:30 does not exist, 26 October 02:30 happens twice.
    expect(parseOvhDate('2025-03-30 01:59:00')!.toISOString()).toBe('2025-03-30T00:59:00.000Z');
    expect(parseOvhDate('2025-03-30 03:00:00')!.toISOString()).toBe('2025-03-30T01:00:00.000Z');
    expect(parseOvhDate('2025-10-26 04:00:00')!.toISOString()).toBe('2025-10-26T03:00:00.000Z');
    expect(parseOvhDate('2025-02-30 10:00:00')).toBeUndefined();
    expect(parseOvhDate('2025-03-01 25:00:00')).toBeUndefined();
    expect(parseOvhDate('')).toBeUndefined();
  });

  it('derives a stable event id per (id, ptt, state, date)', () => {
    const a = parseOvhReceipt(receipt({ ptt: '4', description: '1' }), { now: new Date(0) });
    const b = parseOvhReceipt(receipt({ ptt: '4', description: '1', token: 'other' }));
    const c = parseOvhReceipt(receipt({ ptt: '3', description: '0' }));
    const d = parseOvhReceipt(receipt({ ptt: '4', description: '1', date: '2025-03-01 14:06:00' }));
    expect(a.providerEventId).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(b.providerEventId).toBe(a.providerEventId);
    expect(c.providerEventId).not.toBe(a.providerEventId);
    expect(d.providerEventId).not.toBe(a.providerEventId);
  });

  it('keeps our token out of raw, and a notification id when the URL carries one', () => {
    const event = parseOvhReceipt({ ...receipt({ ptt: '4' }), k: 'custom-named-secret', notification_id: 'n-1' }, { secretParams: ['k'] });
    expect(event.raw).toEqual({ id: '10867690', date: '2025-03-01 14:05:00', ptt: '4', notification_id: 'n-1' });
    expect(event.notificationId).toBe('n-1');
    expect(parseOvhReceipt(receipt({ ptt: '4' })).notificationId).toBeUndefined();
  });

  it('refuses malformed receipts with InboundPayloadError naming the field', () => {
    const cases: Array<[unknown, string]> = [
      [{ ptt: '4' }, 'id'],
      [{ id: '', ptt: '4' }, 'id'],
      [{ id: ['1', '2'], ptt: '4' }, 'id'],
      [{ id: 'x'.repeat(500), ptt: '4' }, 'id'],
      [{ id: '1', ptt: 'delivered' }, 'ptt'],
      [{ id: '1', ptt: '-4' }, 'ptt'],
      [{ id: '1', ptt: '999' }, 'ptt'],
      [{ id: '1' }, 'description'],
      [{ id: '1', description: '3' }, 'description'],
      [{ id: '1', description: 'Teleported' }, 'description'],
      [{ id: '1', ptt: '4', date: ['a', 'b'] }, 'date'],
      [null, 'query'],
      ['id=1&ptt=4', 'query'],
    ];
    for (const [params, field] of cases) {
      let error: unknown;
      try {
        parseOvhReceipt(params as never);
      } catch (caught) {
        error = caught;
      }
      expect(error, JSON.stringify(params)).toBeInstanceOf(InboundPayloadError);
      expect((error as InboundPayloadError).field).toBe(field);
    }
  });
});
