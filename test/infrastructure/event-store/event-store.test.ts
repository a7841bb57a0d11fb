import { describe, expect, it } from 'vitest';
import { occurredAt } from '../../../src/infrastructure/event-store/event-store.js';

describe('occurredAt', () => {
  const createdAt = new Date('2026-12-01T12:00:05.000Z');

  it("is the command's clock (metadata.timestamp) when the event carries one", () => {
    expect(occurredAt({ metadata: { timestamp: '2026-12-01T12:00:00.000Z' }, createdAt })).toEqual(new Date('2026-12-01T12:00:00.000Z'));
  });

  it("is the store's clock when the timestamp is missing, not a string, or not a date", () => {
    expect(occurredAt({ metadata: {}, createdAt })).toBe(createdAt);
    // Metadata comes back from storage as JSON: its type says string, what was stored decides.
    expect(occurredAt({ metadata: JSON.parse('{"timestamp":1764590400000}') as { timestamp: string }, createdAt })).toBe(createdAt);
    // A projection writing an Invalid Date would stop on that event for good.
    expect(occurredAt({ metadata: { timestamp: 'yesterday' }, createdAt })).toBe(createdAt);
  });
});
