import { describe, expect, it } from 'vitest';
import { defaultQuietHoursRules, isQuietTime, nextSendableTime } from '../../../../src/platforms/notifications/compliance/quiet-hours.js';

const at = (iso: string) => new Date(iso);
const next = (iso: string, rules = {}) => nextSendableTime(at(iso), rules).toISOString();

describe('default quiet hours of marketing SMS: Monday–Saturday 10:00–20:00 Paris, no Sundays, no public holidays', () => {
  it('has the documented defaults', () => {
    expect(defaultQuietHoursRules).toEqual({ days: [1, 2, 3, 4, 5, 6], start: '10:00', end: '20:00', timezone: 'Europe/Paris', publicHolidays: true });
  });

  // Tuesday 12 May 2026, Paris on summer time (UTC+2).
  it.each([
    ['2026-05-12T07:59:00.000Z', '09:59', true],
    ['2026-05-12T07:59:59.999Z', '09:59:59.999', true],
    ['2026-05-12T08:00:00.000Z', '10:00', false],
    ['2026-05-12T17:59:00.000Z', '19:59', false],
    ['2026-05-12T17:59:59.999Z', '19:59:59.999', false],
    ['2026-05-12T18:00:00.000Z', '20:00', true],
  ])('summer: %s (%s Paris) quiet = %s', (iso, _paris, quiet) => {
    expect(isQuietTime(at(iso))).toBe(quiet);
  });

  // Tuesday 1 December 2026, Paris on winter time (UTC+1).
  it.each([
    ['2026-12-01T08:59:00.000Z', true],
    ['2026-12-01T09:00:00.000Z', false],
    ['2026-12-01T18:59:00.000Z', false],
    ['2026-12-01T19:00:00.000Z', true],
  ])('winter: %s quiet = %s', (iso, quiet) => {
    expect(isQuietTime(at(iso))).toBe(quiet);
  });

  it('nextSendableTime is the time itself when not quiet, the next 10:00 otherwise', () => {
    expect(next('2026-05-12T12:34:56.789Z')).toBe('2026-05-12T12:34:56.789Z');
    expect(next('2026-05-12T07:59:00.000Z')).toBe('2026-05-12T08:00:00.000Z'); // 09:59 → 10:00 the same day
    expect(next('2026-05-12T18:00:00.000Z')).toBe('2026-05-13T08:00:00.000Z'); // 20:00 → 10:00 the next day
    expect(next('2026-05-12T23:30:00.000Z')).toBe('2026-05-13T08:00:00.000Z'); // 01:30 Wednesday → 10:00 Wednesday
  });

  it('never on a Sunday: Saturday evening waits until Monday', () => {
    expect(isQuietTime(at('2026-05-17T10:00:00.000Z'))).toBe(true); // Sunday noon
    expect(next('2026-05-16T18:30:00.000Z')).toBe('2026-05-18T08:00:00.000Z');
  });

  describe('across daylight-saving changes (last Sunday of March and of October)', () => {
    it('March 2026: Saturday 28 on winter time, Monday 30 on summer time', () => {
      expect(isQuietTime(at('2026-03-28T18:59:00Z'))).toBe(false); // 19:59 CET
      expect(isQuietTime(at('2026-03-28T19:00:00Z'))).toBe(true); // 20:00 CET
      expect(next('2026-03-28T19:00:00Z')).toBe('2026-03-30T08:00:00.000Z'); // Monday 10:00 CEST
      expect(isQuietTime(at('2026-03-30T07:59:00Z'))).toBe(true); // 09:59 CEST
      expect(isQuietTime(at('2026-03-30T08:00:00Z'))).toBe(false); // 10:00 CEST
      expect(isQuietTime(at('2026-03-30T17:59:00Z'))).toBe(false); // 19:59 CEST
      expect(isQuietTime(at('2026-03-30T18:00:00Z'))).toBe(true); // 20:00 CEST
    });

    it('October 2026: Saturday 24 on summer time, Monday 26 on winter time', () => {
      expect(isQuietTime(at('2026-10-24T17:59:00Z'))).toBe(false); // 19:59 CEST
      expect(isQuietTime(at('2026-10-24T18:00:00Z'))).toBe(true); // 20:00 CEST
      expect(next('2026-10-24T18:00:00Z')).toBe('2026-10-26T09:00:00.000Z'); // Monday 10:00 CET
      expect(isQuietTime(at('2026-10-26T08:59:00Z'))).toBe(true); // 09:59 CET
      expect(isQuietTime(at('2026-10-26T09:00:00Z'))).toBe(false); // 10:00 CET
      expect(isQuietTime(at('2026-10-26T18:59:00Z'))).toBe(false); // 19:59 CET
      expect(isQuietTime(at('2026-10-26T19:00:00Z'))).toBe(true); // 20:00 CET
    });

    it('on the day of the change itself, when Sundays are allowed', () => {
      const everyDay = { days: [1, 2, 3, 4, 5, 6, 7] };
      expect(next('2026-03-29T00:30:00Z', everyDay)).toBe('2026-03-29T08:00:00.000Z'); // 01:30 CET → 10:00 CEST
      expect(next('2026-10-25T00:30:00Z', everyDay)).toBe('2026-10-25T09:00:00.000Z'); // 02:30 CEST → 10:00 CET
      expect(isQuietTime(at('2026-03-29T17:59:00Z'), everyDay)).toBe(false);
      expect(isQuietTime(at('2026-10-25T18:59:00Z'), everyDay)).toBe(false);
      expect(isQuietTime(at('2026-10-25T19:00:00Z'), everyDay)).toBe(true);
    });

    it('a window starting at a time the clock skips or repeats', () => {
      const night = { days: [7], start: '02:30', end: '04:00' };
      expect(next('2026-03-29T00:00:00Z', night)).toBe('2026-03-29T01:30:00.000Z'); // 02:30 does not exist: 03:30 CEST
      expect(next('2026-10-25T00:10:00Z', night)).toBe('2026-10-25T00:30:00.000Z'); // 02:30 happens twice: the first
    });
  });

  describe('French public holidays (Easter-dependent ones included)', () => {
    it.each([
      ['2026-04-06T10:00:00Z', 'Easter Monday 2026'],
      ['2026-05-14T10:00:00Z', 'Ascension 2026'],
      ['2026-05-25T10:00:00Z', 'Whit Monday 2026'],
      ['2027-03-29T10:00:00Z', 'Easter Monday 2027'],
      ['2027-05-06T10:00:00Z', 'Ascension 2027'],
      ['2027-05-17T10:00:00Z', 'Whit Monday 2027'],
      ['2026-07-14T10:00:00Z', '14 July'],
      ['2026-12-25T10:00:00Z', 'Christmas'],
    ])('%s (%s) is quiet all day', (iso) => {
      expect(isQuietTime(at(iso))).toBe(true);
    });

    it('the day before and after a holiday are normal days', () => {
      expect(isQuietTime(at('2026-05-13T10:00:00Z'))).toBe(false);
      expect(isQuietTime(at('2026-05-15T10:00:00Z'))).toBe(false);
    });

    it('skips holidays when looking for the next time', () => {
      expect(next('2026-04-04T18:30:00Z')).toBe('2026-04-07T08:00:00.000Z'); // Saturday evening → past Easter Sunday and Monday
      expect(next('2026-05-13T18:00:00Z')).toBe('2026-05-15T08:00:00.000Z'); // Wednesday evening → past Ascension
      // Easter 2027 is the day summer time starts: Saturday 27 March 20:00 CET → Tuesday 30 March 10:00 CEST.
      expect(next('2027-03-27T19:00:00Z')).toBe('2027-03-30T08:00:00.000Z');
      // Summer time ends on Sunday 31 October 2027, then Monday is Toussaint → Tuesday 2 November 10:00 CET.
      expect(next('2027-10-30T18:00:00Z')).toBe('2027-11-02T09:00:00.000Z');
    });

    it('can be turned off', () => {
      expect(isQuietTime(at('2026-05-14T10:00:00Z'), { publicHolidays: false })).toBe(false);
    });
  });

  describe('configurable', () => {
    it('days, start, end', () => {
      const rules = { days: [1, 2, 3, 4, 5], start: '09:00', end: '18:30' };
      expect(isQuietTime(at('2026-05-12T07:00:00Z'), rules)).toBe(false); // Tuesday 09:00
      expect(isQuietTime(at('2026-05-12T16:29:00Z'), rules)).toBe(false); // 18:29
      expect(isQuietTime(at('2026-05-12T16:30:00Z'), rules)).toBe(true); // 18:30
      expect(next('2026-05-15T17:00:00Z', rules)).toBe('2026-05-18T07:00:00.000Z'); // Friday 19:00 → Monday 09:00
    });

    it('another time zone', () => {
      const reunion = { timezone: 'Indian/Reunion' }; // UTC+4, no summer time
      expect(isQuietTime(at('2026-05-12T05:59:00Z'), reunion)).toBe(true); // 09:59
      expect(isQuietTime(at('2026-05-12T06:00:00Z'), reunion)).toBe(false); // 10:00
      expect(next('2026-05-12T16:00:00Z', reunion)).toBe('2026-05-13T06:00:00.000Z');
    });

    it('refuses rules that cannot work', () => {
      expect(() => isQuietTime(at('2026-05-12T10:00:00Z'), { start: '20:00', end: '10:00' })).toThrow(RangeError);
      expect(() => isQuietTime(at('2026-05-12T10:00:00Z'), { start: '9h' })).toThrow(/HH:MM/);
      expect(() => isQuietTime(at('2026-05-12T10:00:00Z'), { days: [0] })).toThrow(/ISO weekday/);
      expect(() => isQuietTime(at('2026-05-12T10:00:00Z'), { timezone: 'Mars/Olympus' })).toThrow(RangeError);
      expect(() => nextSendableTime(at('2026-05-12T10:00:00Z'), { days: [] })).toThrow(/no day/);
      expect(() => nextSendableTime(new Date(Number.NaN))).toThrow(/invalid date/);
    });
  });
});
