import type { HelperDelegate, HelperOptions } from 'handlebars';

/**
 * French formatting helpers for the notification templates (Le Vieux Moulin writes to its guests in French):
 *
 *   {{date reservation_at 'long'}}       → mardi 24 novembre 2026          (Europe/Paris)
 *   {{date reservation_at 'datetime'}}   → 24/11/2026 18:30
 *   {{price total}}                      → 12,50 €
 *   {{plural guests 'couvert' 'couverts'}} → 1 couvert · 3 couverts        (French rule: 0 and 1 are singular)
 *   {{upper name}}                       → ÉLODIE
 *   {{default nickname 'cher client'}}   → nickname, or the fallback when it is missing, null or empty
 *
 * A helper given a missing value throws MissingHelperArgument (the engine turns it into a TemplateRenderError naming the
 * variable): a blank price or date in a guest's e-mail is worse than no e-mail.
 */

export const timeZone = 'Europe/Paris';
const locale = 'fr-FR';

export const dateFormats = {
  /** mardi 24 novembre 2026 */
  long: { weekday: 'long', day: 'numeric', month: 'long', year: 'numeric' },
  /** mardi 24 novembre 2026 à 18:30 */
  long_time: { weekday: 'long', day: 'numeric', month: 'long', year: 'numeric', hour: '2-digit', minute: '2-digit' },
  /** 24 novembre 2026 */
  medium: { day: 'numeric', month: 'long', year: 'numeric' },
  /** mardi 24 novembre */
  day: { weekday: 'long', day: 'numeric', month: 'long' },
  /** 24/11/2026 */
  short: { day: '2-digit', month: '2-digit', year: 'numeric' },
  /** 24/11/2026 18:30 */
  datetime: { day: '2-digit', month: '2-digit', year: 'numeric', hour: '2-digit', minute: '2-digit' },
  /** 18:30 */
  time: { hour: '2-digit', minute: '2-digit' },
} as const satisfies Record<string, Intl.DateTimeFormatOptions>;
export type DateFormat = keyof typeof dateFormats;

const dateFormatters = new Map<string, Intl.DateTimeFormat>();
function dateFormatter(format: DateFormat, zone: string): Intl.DateTimeFormat {
  const key = `${format}|${zone}`;
  let formatter = dateFormatters.get(key);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat(locale, { ...dateFormats[format], timeZone: zone });
    dateFormatters.set(key, formatter);
  }
  return formatter;
}
const priceFormatter = new Intl.NumberFormat(locale, { style: 'currency', currency: 'EUR' });
const pluralRules = new Intl.PluralRules(locale);

/** A value a template cannot format (not a date, not a number…): the message says what was expected. */
export class HelperValueError extends Error {
  constructor(
    readonly helper: string,
    message: string,
    readonly loc?: HelperLocation,
    readonly argumentIndex = 0,
  ) {
    super(message);
    this.name = 'HelperValueError';
  }
}

/** A helper was called with a missing (undefined or null) value; `argumentIndex` says which of its arguments. */
export class MissingHelperArgument extends HelperValueError {
  constructor(helper: string, argumentIndex: number, loc?: HelperLocation) {
    super(helper, `{{${helper}}} needs a value for its argument ${argumentIndex + 1}`, loc, argumentIndex);
    this.name = 'MissingHelperArgument';
  }
}

export interface HelperLocation {
  start: { line: number; column: number };
  end: { line: number; column: number };
}

/**
 * Formats a date in Europe/Paris. Accepts an ISO 8601 string, a Date or epoch milliseconds; a plain calendar date
 * ("2026-11-24") is formatted as that day, whatever the time zone.
 */
export function formatDate(value: unknown, format: string = 'long'): string {
  if (!(format in dateFormats)) {
    throw new HelperValueError('date', `unknown date format "${format}"; use one of ${Object.keys(dateFormats).join(', ')}`);
  }
  let date: Date;
  let zone = timeZone;
  if (value instanceof Date) date = value;
  else if (typeof value === 'number') date = new Date(value);
  else if (typeof value === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(value)) {
    date = new Date(`${value}T00:00:00Z`);
    zone = 'UTC';
  } else if (typeof value === 'string') date = new Date(value);
  else throw new HelperValueError('date', `expected a date (ISO 8601 text), got ${describe(value)}`);
  if (Number.isNaN(date.getTime())) throw new HelperValueError('date', `expected a date (ISO 8601 text), got ${describe(value)}`);
  return dateFormatter(format as DateFormat, zone).format(date);
}

/** An amount in euros, French style: 12,50 € (non-breaking spaces, as Intl writes them). */
export function formatPrice(value: unknown): string {
  const amount = toNumber(value);
  if (amount === null) throw new HelperValueError('price', `expected an amount in euros, got ${describe(value)}`);
  return priceFormatter.format(amount);
}

/** "1 couvert", "0 couvert", "3 couverts" (French: 0 and 1 take the singular). The plural defaults to singular + s. */
export function pluralize(count: unknown, singular: string, plural = `${singular}s`): string {
  const n = toNumber(count);
  if (n === null) throw new HelperValueError('plural', `expected a number, got ${describe(count)}`);
  return `${String(n)} ${pluralRules.select(n) === 'one' ? singular : plural}`;
}

function toNumber(value: unknown): number | null {
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (typeof value === 'string' && /^\s*-?\d+(?:[.,]\d+)?\s*$/.test(value)) return Number(value.trim().replace(',', '.'));
  return null;
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  return typeof value === 'object' ? 'an object' : String(value);
}

/** Splits Handlebars' arguments into the template's arguments and the options object it always appends. */
function split(args: unknown[]): { values: unknown[]; options: HelperOptions & { loc?: HelperLocation } } {
  return { values: args.slice(0, -1), options: args[args.length - 1] as HelperOptions & { loc?: HelperLocation } };
}

function required(helper: string, values: unknown[], index: number, loc: HelperLocation | undefined): unknown {
  const value = values[index];
  if (value === undefined || value === null) throw new MissingHelperArgument(helper, index, loc);
  return value;
}

/** Runs a helper body; errors without a location get the helper call's location (for the error message). */
function located<T>(loc: HelperLocation | undefined, body: () => T): T {
  try {
    return body();
  } catch (error) {
    if (error instanceof HelperValueError && !error.loc && loc) {
      throw error instanceof MissingHelperArgument
        ? new MissingHelperArgument(error.helper, error.argumentIndex, loc)
        : new HelperValueError(error.helper, error.message, loc, error.argumentIndex);
    }
    throw error;
  }
}

export const frenchHelpers: Record<string, HelperDelegate> = {
  date(...args: unknown[]) {
    const { values, options } = split(args);
    return located(options.loc, () => {
      const value = required('date', values, 0, options.loc);
      const format = values[1] ?? options.hash?.format ?? 'long';
      if (typeof format !== 'string') throw new HelperValueError('date', 'the format must be text, e.g. \'long\'', options.loc, 1);
      return formatDate(value, format);
    });
  },
  price(...args: unknown[]) {
    const { values, options } = split(args);
    return located(options.loc, () => formatPrice(required('price', values, 0, options.loc)));
  },
  plural(...args: unknown[]) {
    const { values, options } = split(args);
    return located(options.loc, () => {
      const count = required('plural', values, 0, options.loc);
      const singular = required('plural', values, 1, options.loc);
      const plural = values[2];
      if (typeof singular !== 'string' || (plural !== undefined && typeof plural !== 'string')) {
        throw new HelperValueError('plural', 'the singular and plural forms must be text', options.loc, 1);
      }
      return pluralize(count, singular, plural);
    });
  },
  upper(...args: unknown[]) {
    const { values, options } = split(args);
    return located(options.loc, () => String(required('upper', values, 0, options.loc)).toLocaleUpperCase(locale));
  },
  default(...args: unknown[]) {
    const { values } = split(args);
    const [value, fallback] = values;
    return value === undefined || value === null || value === '' ? (fallback ?? '') : value;
  },
};

export const helperNames = Object.keys(frenchHelpers);
