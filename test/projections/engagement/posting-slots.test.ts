import { describe, expect, it } from 'vitest';
import { nextSlotStart, parisSlotOf, rankSlots, type PastPost } from '../../../src/projections/engagement/posting-slots.js';

const post = (published_at: string, counters: Partial<Omit<PastPost, 'published_at'>> = {}): PastPost => ({
  published_at: new Date(published_at),
  likes: 0,
  shares: 0,
  comments: 0,
  clicks: null,
  reach: null,
  ...counters,
});

describe('posting slots (Europe/Paris)', () => {
  it('places an instant in its Paris weekday and hour, summer and winter', () => {
    expect(parisSlotOf(new Date('2026-07-03T16:30:00Z'))).toEqual({ weekday: 5, hour: 18 }); // Friday, UTC+2
    expect(parisSlotOf(new Date('2026-12-04T17:30:00Z'))).toEqual({ weekday: 5, hour: 18 }); // Friday, UTC+1
    expect(parisSlotOf(new Date('2026-12-06T23:10:00Z'))).toEqual({ weekday: 1, hour: 0 }); // Sunday UTC, Monday in Paris
  });

  it('finds the next start of a slot, strictly after the instant, across a change of offset', () => {
    expect(nextSlotStart({ weekday: 5, hour: 18 }, new Date('2026-07-01T10:00:00Z')).toISOString()).toBe('2026-07-03T16:00:00.000Z');
    expect(nextSlotStart({ weekday: 5, hour: 18 }, new Date('2026-07-03T16:00:00Z')).toISOString()).toBe('2026-07-10T16:00:00.000Z');
    // Clocks go back on Sunday 25 October 2026: the next Monday 09:00 is at 08:00 UTC.
    expect(nextSlotStart({ weekday: 1, hour: 9 }, new Date('2026-10-23T12:00:00Z')).toISOString()).toBe('2026-10-26T08:00:00.000Z');
    // 02:00 does not exist on Sunday 29 March 2026: the slot is a week later.
    expect(nextSlotStart({ weekday: 7, hour: 2 }, new Date('2026-03-28T12:00:00Z')).toISOString()).toBe('2026-04-05T00:00:00.000Z');
  });

  it('ranks slots with enough posts by interactions per post, with the figures they rest on', () => {
    const posts = [
      // Friday 18:00 Paris: 3 posts, 20 interactions each
      post('2026-06-05T16:10:00Z', { likes: 15, comments: 3, shares: 2, reach: 1_000 }),
      post('2026-06-12T16:20:00Z', { likes: 10, comments: 5, shares: 1, clicks: 4, reach: 1_000 }),
      post('2026-06-19T16:05:00Z', { likes: 12, comments: 6, shares: 2 }),
      // Tuesday 11:00 Paris: 3 posts, 4 interactions each
      post('2026-06-02T09:00:00Z', { likes: 4 }),
      post('2026-06-09T09:30:00Z', { likes: 3, comments: 1 }),
      post('2026-06-16T09:45:00Z', { likes: 2, shares: 2 }),
      // Sunday 12:00 Paris: one post with many interactions, too few to rank
      post('2026-06-07T10:00:00Z', { likes: 200 }),
    ];
    const ranking = rankSlots(posts, 3);
    expect(ranking.posts).toBe(7);
    expect(ranking.interactions_per_post).toBe(Math.round(((60 + 12 + 200) / 7) * 100) / 100);
    expect(ranking.below_min_posts).toBe(1);
    expect(ranking.ranked.map((s) => [s.day, s.hour, s.posts, s.interactions_per_post])).toEqual([
      ['friday', 18, 3, 20],
      ['tuesday', 11, 3, 4],
    ]);
    expect(ranking.ranked[0]).toMatchObject({ weekday: 5, likes: 37, comments: 14, shares: 5, clicks: 4, interactions: 60, reach_per_post: 1_000, engagement_rate: 0.02, lift: 0.51 });
    expect(ranking.ranked[1]).toMatchObject({ reach_per_post: null, engagement_rate: null });
    expect(rankSlots(posts, 1).ranked[0]).toMatchObject({ day: 'sunday', hour: 12, posts: 1 });
    expect(rankSlots([], 3)).toEqual({ posts: 0, interactions_per_post: null, ranked: [], below_min_posts: 0 });
  });

  it('breaks ties by more posts, then the earlier slot', () => {
    const posts = [post('2026-06-02T09:00:00Z', { likes: 5 }), post('2026-06-01T09:00:00Z', { likes: 5 }), post('2026-06-08T09:00:00Z', { likes: 5 })];
    expect(rankSlots(posts, 1).ranked.map((s) => [s.day, s.posts])).toEqual([
      ['monday', 2],
      ['tuesday', 1],
    ]);
  });
});
