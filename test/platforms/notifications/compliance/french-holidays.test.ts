import { describe, expect, it } from 'vitest';
import {
  easterSunday,
  formatDate,
  frenchPublicHoliday,
  frenchPublicHolidays,
  isFrenchPublicHoliday,
} from '../../../../src/platforms/notifications/compliance/french-holidays.js';

describe('easterSunday (anonymous Gregorian algorithm)', () => {
  it.each([
    [2024, '2024-03-31'],
    [2025, '2025-04-20'],
    [2026, '2026-04-05'],
    [2027, '2027-03-28'],
    [2019, '2019-04-21'],
    [2038, '2038-04-25'],
    [2285, '2285-03-22'], // the earliest possible date
    [1943, '1943-04-25'], // the latest possible date
  ])('%i → %s', (year, date) => {
    expect(formatDate(easterSunday(year))).toBe(date);
  });

  it('refuses a year before the Gregorian calendar', () => {
    expect(() => easterSunday(1500)).toThrow(RangeError);
  });
});

describe('frenchPublicHolidays', () => {
  it('2026: the eleven days, Easter-dependent ones from Easter on 5 April', () => {
    expect(frenchPublicHolidays(2026).map((h) => h.date)).toEqual([
      '2026-01-01',
      '2026-04-06', // Lundi de Pâques
      '2026-05-01',
      '2026-05-08',
      '2026-05-14', // Ascension: Easter + 39
      '2026-05-25', // Lundi de Pentecôte: Easter + 50
      '2026-07-14',
      '2026-08-15',
      '2026-11-01',
      '2026-11-11',
      '2026-12-25',
    ]);
  });

  it('2027: Easter on 28 March moves Easter Monday to 29 March and Ascension before 8 May', () => {
    const byName = Object.fromEntries(frenchPublicHolidays(2027).map((h) => [h.name, h.date]));
    expect(byName).toMatchObject({
      'Lundi de Pâques': '2027-03-29',
      Ascension: '2027-05-06',
      'Lundi de Pentecôte': '2027-05-17',
    });
    expect(frenchPublicHolidays(2027).map((h) => h.date)).toEqual([...frenchPublicHolidays(2027).map((h) => h.date)].sort());
    expect(frenchPublicHolidays(2027)).toHaveLength(11);
  });

  it('answers for a calendar date', () => {
    expect(frenchPublicHoliday({ year: 2026, month: 5, day: 14 })?.name).toBe('Ascension');
    expect(isFrenchPublicHoliday({ year: 2026, month: 7, day: 14 })).toBe(true);
    expect(isFrenchPublicHoliday({ year: 2026, month: 7, day: 15 })).toBe(false);
    expect(isFrenchPublicHoliday({ year: 2026, month: 4, day: 5 })).toBe(false); // Easter Sunday itself is a Sunday, not a listed holiday
  });
});
