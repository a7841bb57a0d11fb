import { describe, expect, it } from 'vitest';
import {
  derivedEventId,
  guarded,
  InboundPayloadError,
  isInboundPayloadError,
  isoFromUnixSeconds,
  notificationIdFromUrl,
  quoteUnsafeIntegers,
  redactRaw,
  timingSafeStringEqual,
  truncateReason,
  MAX_REASON_LENGTH,
} from '../../../../src/platforms/notifications/inbound/inbound-event.js';

describe('quoteUnsafeIntegers', () => {
  it('quotes only integers beyond 2^53, outside strings', () => {
    expect(quoteUnsafeIntegers('{"a":19421777835146490,"b":-19421777835146490}')).toBe('{"a":"19421777835146490","b":"-19421777835146490"}');
    const untouched = [
      '{"a":9007199254740991,"b":1.9421777835146490,"c":1e300,"d":12345678901234567.5}',
      '{"s":"19421777835146490","t":"say \\"19421777835146490\\" twice","u":"\\\\"}',
      '[true,false,null,0,-1]',
    ];
    for (const text of untouched) expect(quoteUnsafeIntegers(text)).toBe(text);
    expect(JSON.parse(quoteUnsafeIntegers('{"t":"a\\\\","n":19421777835146490}'))).toEqual({ t: 'a\\', n: '19421777835146490' });
  });

  it('leaves invalid JSON invalid', () => {
    expect(() => JSON.parse(quoteUnsafeIntegers('{"a":19421777835146490x}'))).toThrow();
  });
});

describe('shared helpers', () => {
  it('derives the same id from the same parts only', () => {
    expect(derivedEventId('ovh', ['1', 4])).toBe(derivedEventId('ovh', ['1', '4']));
    expect(derivedEventId('ovh', ['1', 4])).not.toBe(derivedEventId('twilio', ['1', 4]));
    expect(derivedEventId('ovh', ['14'])).not.toBe(derivedEventId('ovh', ['1', '4']));
    expect(derivedEventId('ovh', ['1', undefined])).not.toBe(derivedEventId('ovh', ['1', 'null']));
  });

  it('compares strings in constant time, whatever their lengths', () => {
    expect(timingSafeStringEqual('abc', 'abc')).toBe(true);
    expect(timingSafeStringEqual('abc', 'abd')).toBe(false);
    expect(timingSafeStringEqual('abc', 'abcd')).toBe(false);
    expect(timingSafeStringEqual('', '')).toBe(true);
  });

  it('converts Unix seconds and refuses what is not', () => {
    expect(isoFromUnixSeconds('sendgrid', 't', 1700000000)).toBe('2023-11-14T22:13:20.000Z');
    expect(isoFromUnixSeconds('sendgrid', 't', '1700000000')).toBe('2023-11-14T22:13:20.000Z');
    for (const bad of [undefined, null, '', 'x', Number.NaN, Infinity, 0, -1, 1e11, 1700000000000, {}, []]) {
      expect(() => isoFromUnixSeconds('sendgrid', 't', bad), String(bad)).toThrow(InboundPayloadError);
    }
  });

  it('removes secret-looking keys at every depth and caps nesting', () => {
    const raw = redactRaw({ a: 1, Token: 'x', password: 'p', signature: 's', nested: [{ apiKey: 'k', keep: true }], x: 'y' }, ['X']);
    expect(raw).toEqual({ a: 1, nested: [{ keep: true }] });
    let deep: Record<string, unknown> = { leaf: 1 };
    for (let i = 0; i < 50; i++) deep = { child: deep };
    expect(JSON.stringify(redactRaw(deep))).toContain('[truncated]');
  });

  it('reads the notification id from a callback URL', () => {
    expect(notificationIdFromUrl('https://h.example/cb?a=1&notification_id=abc')).toBe('abc');
    expect(notificationIdFromUrl('https://h.example/cb')).toBeUndefined();
    expect(notificationIdFromUrl('::')).toBeUndefined();
    expect(notificationIdFromUrl(undefined)).toBeUndefined();
  });

  it('truncates long reasons to the domain limit', () => {
    expect(truncateReason('x'.repeat(5000))).toHaveLength(MAX_REASON_LENGTH);
    expect(truncateReason('   ')).toBeUndefined();
  });

  it('turns unexpected exceptions into InboundPayloadError', () => {
    const error = (() => {
      try {
        return guarded('mailjet', () => {
          throw new TypeError('boom');
        });
      } catch (caught) {
        return caught;
      }
    })();
    expect(isInboundPayloadError(error)).toBe(true);
    expect(error).toMatchObject({ provider: 'mailjet', field: 'body', name: 'InboundPayloadError' });
  });
});
