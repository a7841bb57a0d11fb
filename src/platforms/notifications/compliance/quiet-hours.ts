import { isFrenchPublicHoliday, type CalendarDate } from './french-holidays.js';

/**
 * When marketing SMS may be sent. By default Monday to Saturday, 10:00 to 20:00 Paris time, never on a Sunday nor on
 * a French public holiday (the practice the French operators' code of conduct for SMS marketing and the CNIL expect).
 * Transactional messages have no quiet hours.
 *
 * Times are wall-clock times in `timezone`, read with Intl, so a window stays 10:00–20:00 local on both sides of a
 * daylight-saving change. `start` is included, `end` excluded: 10:00:00 may send, 20:00:00 may not.
 */
export interface QuietHoursRules {
  /** ISO weekdays on which sending is allowed: 1 = Monday … 7 = Sunday. */
  days: readonly number[];
  /** "HH:MM", local, included. */
  start: string;
  /** "HH:MM", local, excluded; after start. */
  end: string;
  /** IANA time zone. */
  timezone: string;
  /** Also quiet on French public holidays (default true). */
  publicHolidays: boolean;
}

export const defaultQuietHoursRules: Readonly<QuietHoursRules> = Object.freeze({
  days: Object.freeze([1, 2, 3, 4, 5, 6]),
  start: '10:00',
  end: '20:00',
  timezone: 'Europe/Paris',
  publicHolidays: true,
});

/** True when a marketing SMS may not be sent at `at`. */
export function isQuietTime(at: Date, rules: Partial<QuietHoursRules> = {}): boolean {
  const r = resolveRules(rules);
  const local = localTime(at, r.timezone);
  return !(allowedDay(local, r) && local.minutes >= r.startMinutes && local.minutes < r.endMinutes);
}

/** `at` itself when it is not quiet, otherwise the first moment after it when sending is allowed. */
export function nextSendableTime(at: Date, rules: Partial<QuietHoursRules> = {}): Date {
  const r = resolveRules(rules);
  assertValidDate(at);
  const local = localTime(at, r.timezone);
  if (allowedDay(local, r) && local.minutes < r.endMinutes) {
    if (local.minutes >= r.startMinutes) return new Date(at.getTime());
    return new Date(zonedTimeToUtc(local, r.startMinutes, r.timezone));
  }
  // A year and a week is enough to find any allowed weekday outside the holidays.
  for (let offset = 1; offset <= 372; offset++) {
    const day = addDays(local, offset);
    if (allowedDay(day, r)) return new Date(zonedTimeToUtc(day, r.startMinutes, r.timezone));
  }
  throw new RangeError('nextSendableTime: the rules allow no day at all');
}

// ---- rules --------------------------------------------------------------------------------------------------------

interface ResolvedRules {
  days: ReadonlySet<number>;
  startMinutes: number;
  endMinutes: number;
  timezone: string;
  publicHolidays: boolean;
}

function resolveRules(rules: Partial<QuietHoursRules>): ResolvedRules {
  const merged = { ...defaultQuietHoursRules, ...definedOnly(rules) };
  const startMinutes = parseClock(merged.start, 'start');
  const endMinutes = parseClock(merged.end, 'end');
  if (endMinutes <= startMinutes) throw new RangeError(`quiet hours: end ${merged.end} must be after start ${merged.start}`);
  for (const day of merged.days) {
    if (!Number.isInteger(day) || day < 1 || day > 7) throw new RangeError(`quiet hours: day ${day} is not an ISO weekday (1 = Monday … 7 = Sunday)`);
  }
  formatter(merged.timezone); // throws RangeError for an unknown time zone
  return { days: new Set(merged.days), startMinutes, endMinutes, timezone: merged.timezone, publicHolidays: merged.publicHolidays };
}

function parseClock(text: string, name: string): number {
  const match = /^([01]\d|2[0-3]):([0-5]\d)$/.exec(text);
  if (!match) {
    if (text === '24:00' && name === 'end') return 24 * 60;
    throw new RangeError(`quiet hours: ${name} must be HH:MM, got ${JSON.stringify(text)}`);
  }
  return Number(match[1]) * 60 + Number(match[2]);
}

function allowedDay(date: CalendarDate, rules: ResolvedRules): boolean {
  return rules.days.has(isoWeekday(date)) && !(rules.publicHolidays && isFrenchPublicHoliday(date));
}

// ---- time zones ---------------------------------------------------------------------------------------------------

interface LocalTime extends CalendarDate {
  /** Minutes since local midnight. */
  minutes: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timezone: string): Intl.DateTimeFormat {
  let f = formatters.get(timezone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: timezone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timezone, f);
  }
  return f;
}

function wallClock(epochMs: number, timezone: string): LocalTime & { seconds: number } {
  const parts: Record<string, number> = {};
  for (const part of formatter(timezone).formatToParts(new Date(epochMs))) {
    if (part.type !== 'literal') parts[part.type] = Number(part.value);
  }
  return {
    year: parts.year!,
    month: parts.month!,
    day: parts.day!,
    minutes: parts.hour! * 60 + parts.minute!,
    seconds: parts.second!,
  };
}

function localTime(at: Date, timezone: string): LocalTime {
  assertValidDate(at);
  const { seconds: _s, ...local } = wallClock(at.getTime(), timezone);
  return local;
}

/** The zone's offset from UTC at an instant, in ms (Paris: +1 h in winter, +2 h in summer). */
function offsetAt(epochMs: number, timezone: string): number {
  const w = wallClock(epochMs, timezone);
  const asUtc = Date.UTC(w.year, w.month - 1, w.day, 0, w.minutes, w.seconds);
  return asUtc - Math.floor(epochMs / 1000) * 1000;
}

/**
 * The instant at which the wall clock of `timezone` reads `minutes` on `date`. When the clock goes back and the time
 * happens twice, the first one; when it skips forward over that time, the time read with the offset before the change
 * (02:30 on the day Paris skips from 02:00 to 03:00 gives 03:30).
 */
function zonedTimeToUtc(date: CalendarDate, minutes: number, timezone: string): number {
  const wall = Date.UTC(date.year, date.month - 1, date.day, 0, minutes);
  const day = 86_400_000;
  const offsets = [...new Set([offsetAt(wall - day, timezone), offsetAt(wall, timezone), offsetAt(wall + day, timezone)])];
  const exact = offsets.map((o) => wall - o).filter((t) => offsetAt(t, timezone) === wall - t);
  if (exact.length > 0) return Math.min(...exact);
  return wall - Math.min(...offsets);
}

function addDays(date: CalendarDate, days: number): CalendarDate {
  const d = new Date(Date.UTC(date.year, date.month - 1, date.day + days));
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate() };
}

function isoWeekday(date: CalendarDate): number {
  const weekday = new Date(Date.UTC(date.year, date.month - 1, date.day)).getUTCDay();
  return weekday === 0 ? 7 : weekday;
}

function assertValidDate(at: Date): void {
  if (!(at instanceof Date) || Number.isNaN(at.getTime())) throw new RangeError('quiet hours: invalid date');
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
