import { describe, expect, it } from 'vitest';
import { SlidingWindowLog } from '../../../src/infrastructure/http/sliding-window.js';

describe('SlidingWindowLog', () => {
  it('keeps only the entries of the last window, per subject', () => {
    const log = new SlidingWindowLog<string>(1_000);
    log.add('a', 'x', 0);
    log.add('a', 'y', 500);
    log.add('b', 'z', 600);
    expect(log.get('a', 900).map((e) => e.value)).toEqual(['x', 'y']);
    expect(log.get('a', 1_000).map((e) => e.value)).toEqual(['y']);
    expect(log.get('a', 1_500)).toEqual([]);
    expect(log.get('b', 1_500).map((e) => e.value)).toEqual(['z']);
  });

  it('returns the entries in the window from add, the new one last', () => {
    const log = new SlidingWindowLog<number>(1_000);
    log.add('a', 1, 0);
    expect(log.add('a', 2, 2_000)).toEqual([{ at: 2_000, value: 2 }]);
  });

  it('bounds the entries of a subject, dropping the oldest', () => {
    const log = new SlidingWindowLog<number>(10_000, { maxEntriesPerSubject: 3 });
    for (let i = 0; i < 10; i++) log.add('a', i, i);
    expect(log.get('a', 10).map((e) => e.value)).toEqual([7, 8, 9]);
  });

  it('bounds the subjects, forgetting the one seen least recently', () => {
    const log = new SlidingWindowLog<number>(10_000, { maxSubjects: 2 });
    log.add('a', 1, 0);
    log.add('b', 1, 1);
    log.add('a', 2, 2);
    log.add('c', 1, 3);
    expect(log.size).toBe(2);
    expect(log.get('b', 4)).toEqual([]);
    expect(log.get('a', 4)).toHaveLength(2);
  });
});
