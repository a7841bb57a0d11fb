import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { newId } from '../../../src/infrastructure/ids/new-id.js';

describe('newId', () => {
  it('is a UUID that the routes accept, of version 7', () => {
    const id = newId();
    expect(z.uuid().safeParse(id).success).toBe(true);
    expect(id[14]).toBe('7');
    expect('89ab').toContain(id[19]);
  });

  it('sorts in the order the ids were made, also within one millisecond, so index inserts land on the last pages', () => {
    const ids = Array.from({ length: 10_000 }, () => newId());
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('begins with the time it was made', () => {
    const before = Date.now();
    const id = newId();
    const millis = parseInt(id.replace(/-/g, '').slice(0, 12), 16);
    expect(millis).toBeGreaterThanOrEqual(before);
    expect(millis).toBeLessThanOrEqual(Date.now());
  });
});
