/** A time as the spec writes it: ISO 8601 in UTC, without milliseconds when there are none (2025-04-20T18:30:00Z). */
export function utcText(value: Date | number | string): string {
  return new Date(value).toISOString().replace('.000Z', 'Z');
}
