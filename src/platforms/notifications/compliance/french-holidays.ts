/**
 * French public holidays (jours fériés, Code du travail L3133-1) of metropolitan France: the eleven days below.
 * Alsace-Moselle (Good Friday, 26 December) and the overseas departments (abolition of slavery) add days of their own;
 * Le Vieux Moulin is in Gironde, so they are not included.
 */

export interface CalendarDate {
  year: number;
  /** 1–12 */
  month: number;
  /** 1–31 */
  day: number;
}

export interface PublicHoliday {
  /** YYYY-MM-DD */
  date: string;
  name: string;
}

/** Easter Sunday of a Gregorian year, by the anonymous Gregorian algorithm (Meeus/Jones/Butcher). */
export function easterSunday(year: number): CalendarDate {
  if (!Number.isInteger(year) || year < 1583) throw new RangeError(`easterSunday: ${year} is not a Gregorian year`);
  const a = year % 19;
  const b = Math.floor(year / 100);
  const c = year % 100;
  const d = Math.floor(b / 4);
  const e = b % 4;
  const f = Math.floor((b + 8) / 25);
  const g = Math.floor((b - f + 1) / 3);
  const h = (19 * a + b - d - g + 15) % 30;
  const i = Math.floor(c / 4);
  const k = c % 4;
  const l = (32 + 2 * e + 2 * i - h - k) % 7;
  const m = Math.floor((a + 11 * h + 22 * l) / 451);
  const month = Math.floor((h + l - 7 * m + 114) / 31);
  const day = ((h + l - 7 * m + 114) % 31) + 1;
  return { year, month, day };
}

const cache = new Map<number, PublicHoliday[]>();

/** The public holidays of a year, in date order. */
export function frenchPublicHolidays(year: number): PublicHoliday[] {
  const cached = cache.get(year);
  if (cached) return cached;
  const easter = easterSunday(year);
  const easterUtc = Date.UTC(year, easter.month - 1, easter.day);
  const afterEaster = (days: number) => isoDate(new Date(easterUtc + days * 86_400_000));
  const fixed = (month: number, day: number) => formatDate({ year, month, day });
  const holidays: PublicHoliday[] = [
    { date: fixed(1, 1), name: "Jour de l'an" },
    { date: afterEaster(1), name: 'Lundi de Pâques' },
    { date: fixed(5, 1), name: 'Fête du Travail' },
    { date: fixed(5, 8), name: 'Victoire 1945' },
    { date: afterEaster(39), name: 'Ascension' },
    { date: afterEaster(50), name: 'Lundi de Pentecôte' },
    { date: fixed(7, 14), name: 'Fête nationale' },
    { date: fixed(8, 15), name: 'Assomption' },
    { date: fixed(11, 1), name: 'Toussaint' },
    { date: fixed(11, 11), name: 'Armistice 1918' },
    { date: fixed(12, 25), name: 'Noël' },
  ].sort((x, y) => (x.date < y.date ? -1 : x.date > y.date ? 1 : 0));
  cache.set(year, holidays);
  return holidays;
}

/** The holiday on that calendar date, or null. */
export function frenchPublicHoliday(date: CalendarDate): PublicHoliday | null {
  const text = formatDate(date);
  return frenchPublicHolidays(date.year).find((h) => h.date === text) ?? null;
}

export function isFrenchPublicHoliday(date: CalendarDate): boolean {
  return frenchPublicHoliday(date) !== null;
}

export function formatDate({ year, month, day }: CalendarDate): string {
  return `${String(year).padStart(4, '0')}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`;
}

function isoDate(date: Date): string {
  return date.toISOString().slice(0, 10);
}
