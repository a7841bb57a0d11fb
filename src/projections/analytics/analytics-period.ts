import { addDays, hourOf, mondayOf, parisDay, parisMidnight, parisText } from './paris-calendar.js';
import { utcText } from '../../infrastructure/time/utc-text.js';

/**
 * The periods an analytics query covers: `from` inclusive, `to` exclusive, widened to whole periods (hours in UTC,
 * days and ISO weeks in Europe/Paris). A plain date (2025-06-01) is the start of that Paris day.
 */

export const granularities = ['hour', 'day', 'week'] as const;
export type Granularity = (typeof granularities)[number];

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/** The longest range per granularity: beyond it the answer would be thousands of periods. */
export const maxRangeDays: Record<Granularity, number> = { hour: 31, day: 732, week: 1_830 };
/** The range when none is given, ending now. */
const defaultRangeMs: Record<Granularity, number> = { hour: 2 * DAY_MS, day: 30 * DAY_MS, week: 12 * 7 * DAY_MS };

export interface PeriodRange {
  granularity: Granularity;
  /** First instant covered. */
  from: Date;
  /** First instant after the range. */
  to: Date;
  /** For day and week: the Paris days, to exclusive. */
  fromDay: string;
  toDay: string;
}

export function instantOf(text: string): Date {
  return /^\d{4}-\d{2}-\d{2}$/.test(text) ? parisMidnight(text) : new Date(text);
}

/** The whole periods around [from, to); either may be absent (defaults: a range per granularity ending now). */
export function periodRange(granularity: Granularity, fromText: string | undefined, toText: string | undefined, now: Date): PeriodRange {
  const toGiven = toText ? instantOf(toText) : now;
  const fromGiven = fromText ? instantOf(fromText) : new Date(toGiven.getTime() - defaultRangeMs[granularity]);
  if (granularity === 'hour') {
    const from = hourOf(fromGiven);
    const lastHour = hourOf(new Date(toGiven.getTime() - 1));
    const to = new Date(lastHour.getTime() + HOUR_MS);
    return { granularity, from, to, fromDay: parisDay(from), toDay: parisDay(to) };
  }
  let fromDay = parisDay(fromGiven);
  let toDay = addDays(parisDay(new Date(toGiven.getTime() - 1)), 1);
  if (granularity === 'week') {
    fromDay = mondayOf(fromDay);
    const monday = mondayOf(toDay);
    toDay = monday === toDay ? toDay : addDays(monday, 7);
  }
  return { granularity, from: parisMidnight(fromDay), to: parisMidnight(toDay), fromDay, toDay };
}

/** How a period's start and end are shown: UTC for hours, Paris time with its offset for days and weeks. */
export function periodText(granularity: Granularity, start: Date): string {
  return granularity === 'hour' ? utcText(start) : parisText(start);
}

/** The period after the one starting at `start` (day and week periods are given by their first day). */
export function periodEnd(granularity: Granularity, start: Date | string): Date {
  if (granularity === 'hour') return new Date((start as Date).getTime() + HOUR_MS);
  return parisMidnight(addDays(start as string, granularity === 'day' ? 1 : 7));
}
