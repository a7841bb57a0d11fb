/**
 * Days and weeks of the analytics, in Europe/Paris: the restaurant's calendar, so that "Saturday" means the evening
 * the dining room was full, not a UTC day cut at 1 or 2 a.m. France's offsets are whole hours, so an hour is the same
 * bucket in UTC and in Paris; its clocks change at 01:00 UTC, never at local midnight, so a Paris day starts at the
 * offset that applies at 00:00 UTC of the same date.
 */

export const ANALYTICS_TIME_ZONE = 'Europe/Paris' as const;

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

const dayFormat = new Intl.DateTimeFormat('en-CA', { timeZone: ANALYTICS_TIME_ZONE, year: 'numeric', month: '2-digit', day: '2-digit' });
const offsetFormat = new Intl.DateTimeFormat('en-US', { timeZone: ANALYTICS_TIME_ZONE, timeZoneName: 'longOffset' });

/** The start of the UTC hour holding the instant. */
export function hourOf(instant: Date | string): Date {
  const ms = new Date(instant).getTime();
  return new Date(ms - (((ms % HOUR_MS) + HOUR_MS) % HOUR_MS));
}

const dayOfHour = new Map<number, string>();

/** The Paris calendar day (YYYY-MM-DD) an instant falls in. */
export function parisDay(instant: Date): string {
  const hour = hourOf(instant).getTime();
  let day = dayOfHour.get(hour);
  if (day === undefined) {
    day = dayFormat.format(new Date(hour));
    // Events arrive roughly in time order: a small memory of recent hours saves formatting each event.
    if (dayOfHour.size > 50_000) dayOfHour.clear();
    dayOfHour.set(hour, day);
  }
  return day;
}

const offsetOfHour = new Map<number, number>();

/** Paris's offset from UTC at an instant, in minutes (60 in winter, 120 in summer). */
export function parisOffsetMinutes(instant: Date): number {
  // Offsets change on the hour: one formatting per hour, remembered (Intl is slow next to the rest of a query).
  const hour = hourOf(instant).getTime();
  let offset = offsetOfHour.get(hour);
  if (offset === undefined) {
    const name = offsetFormat.formatToParts(new Date(hour)).find((part) => part.type === 'timeZoneName')?.value ?? 'GMT';
    const match = /GMT([+-])(\d{2}):(\d{2})/.exec(name);
    offset = match ? (match[1] === '-' ? -1 : 1) * (Number(match[2]) * 60 + Number(match[3])) : 0;
    if (offsetOfHour.size > 50_000) offsetOfHour.clear();
    offsetOfHour.set(hour, offset);
  }
  return offset;
}

/** The instant a Paris day begins. */
export function parisMidnight(day: string): Date {
  const utcMidnight = Date.parse(`${day}T00:00:00Z`);
  return new Date(utcMidnight - parisOffsetMinutes(new Date(utcMidnight)) * 60_000);
}

/** The instant as Paris wall-clock time with its offset, e.g. 2025-06-12T00:00:00+02:00. */
export function parisText(instant: Date): string {
  const offset = parisOffsetMinutes(instant);
  const local = new Date(instant.getTime() + offset * 60_000).toISOString().slice(0, 19);
  const sign = offset < 0 ? '-' : '+';
  const abs = Math.abs(offset);
  return `${local}${sign}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}

export function addDays(day: string, days: number): string {
  return new Date(Date.parse(`${day}T00:00:00Z`) + days * DAY_MS).toISOString().slice(0, 10);
}

/** The Monday of the ISO week holding the day. */
export function mondayOf(day: string): string {
  const weekday = new Date(`${day}T00:00:00Z`).getUTCDay(); // 0 = Sunday
  return addDays(day, -((weekday + 6) % 7));
}
