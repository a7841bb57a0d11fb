import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DomainError } from '../../src/domain/domain-error.js';
import { publicationPlatforms, type Platform } from '../../src/domain/publication-events.js';
import {
  allocateSlot,
  QUOTA_WINDOW_MS,
  type BookedPost,
  type SlotRequest,
  type SlotRulesByPlatform,
} from '../../src/domain/publication-slots.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = QUOTA_WINDOW_MS;
/** 2025-04-20T18:30:00Z */
const AT = Date.parse('2025-04-20T18:30:00Z');

const request = (changes: Partial<SlotRequest> = {}): SlotRequest => ({
  publicationId: 'request',
  platforms: ['instagram'],
  at: AT,
  priority: 50,
  ...changes,
});
const post = (publicationId: string, at: number, changes: Partial<BookedPost> = {}): BookedPost => ({
  publicationId,
  platforms: ['instagram'],
  at,
  priority: 50,
  movable: true,
  ...changes,
});
const gap30: SlotRulesByPlatform = { instagram: { minGapMs: 30 * MINUTE, postsPer24h: null } };
const quota = (postsPer24h: number): SlotRulesByPlatform => ({ instagram: { minGapMs: 0, postsPer24h } });

describe('allocateSlot: free time', () => {
  it('keeps the requested time when nothing conflicts', () => {
    expect(allocateSlot(request(), [post('other', AT + HOUR)], gap30)).toEqual({ at: AT, reason: null, moves: [] });
  });

  it('sets no constraint on a platform without rules, nor a gap of 0', () => {
    const booked = [post('same-time', AT)];
    expect(allocateSlot(request(), booked, {}).at).toBe(AT);
    expect(allocateSlot(request(), booked, { instagram: { minGapMs: 0, postsPer24h: null } }).at).toBe(AT);
  });

  it('only looks at the platforms the request shares', () => {
    const booked = [post('facebook-only', AT, { platforms: ['facebook'], priority: 90 })];
    const rules = { ...gap30, facebook: { minGapMs: HOUR, postsPer24h: null } };
    expect(allocateSlot(request(), booked, rules).at).toBe(AT);
  });

  it('ignores the request’s own booking (a retried command)', () => {
    const booked = [post('request', AT + 10 * MINUTE, { priority: 90 })];
    expect(allocateSlot(request(), booked, gap30)).toEqual({ at: AT, reason: null, moves: [] });
  });

  it('accepts a post exactly one gap away', () => {
    expect(allocateSlot(request(), [post('before', AT - 30 * MINUTE, { priority: 90 })], gap30).at).toBe(AT);
  });
});

describe('allocateSlot: minimum gap', () => {
  it('moves the request after a post of higher priority, saying why', () => {
    const booked = [post('p-80', AT - 10 * MINUTE, { priority: 80 })];
    expect(allocateSlot(request(), booked, gap30)).toEqual({
      at: AT + 20 * MINUTE,
      reason: 'minimum gap of 30 min on instagram with publication p-80 (priority 80)',
      moves: [],
    });
  });

  it('moves the request when the priorities are equal', () => {
    const booked = [post('p-50', AT + 10 * MINUTE)];
    expect(allocateSlot(request(), booked, gap30).at).toBe(AT + 40 * MINUTE);
  });

  it('moves the request past a post already started, whatever its priority', () => {
    const booked = [post('started', AT, { priority: 0, movable: false })];
    expect(allocateSlot(request({ priority: 100 }), booked, gap30)).toEqual({
      at: AT + 30 * MINUTE,
      reason: 'minimum gap of 30 min on instagram with publication started (priority 0, already started or published)',
      moves: [],
    });
  });

  it('finds the first time clear of every post', () => {
    const booked = [post('a', AT + 5 * MINUTE, { priority: 80 }), post('b', AT + 40 * MINUTE, { priority: 80 })];
    expect(allocateSlot(request(), booked, gap30).at).toBe(AT + 70 * MINUTE);
  });

  it('keeps the request’s time and moves a movable post of lower priority', () => {
    const booked = [post('p-20', AT + 10 * MINUTE, { priority: 20 })];
    expect(allocateSlot(request({ priority: 80 }), booked, gap30)).toEqual({
      at: AT,
      reason: null,
      moves: [
        {
          publicationId: 'p-20',
          from: AT + 10 * MINUTE,
          to: AT + 30 * MINUTE,
          reason: 'minimum gap of 30 min on instagram with publication request (priority 80)',
        },
      ],
    });
  });

  it('never moves a post earlier: one just before the request goes after it', () => {
    const booked = [post('p-20', AT - 10 * MINUTE, { priority: 20 })];
    expect(allocateSlot(request({ priority: 80 }), booked, gap30).moves).toMatchObject([
      { publicationId: 'p-20', from: AT - 10 * MINUTE, to: AT + 30 * MINUTE },
    ]);
  });

  it('moves the bumped posts higher priority first, each to its own next free slot, bumping nothing else', () => {
    const booked = [
      post('p-10', AT, { priority: 10 }),
      post('p-30', AT + 5 * MINUTE, { priority: 30 }),
      post('p-90-later', AT + 60 * MINUTE, { priority: 90 }),
    ];
    const result = allocateSlot(request({ priority: 80 }), booked, gap30);
    expect(result.at).toBe(AT);
    expect(result.moves.map(({ publicationId, to }) => [publicationId, to])).toEqual([
      ['p-30', AT + 30 * MINUTE],
      ['p-10', AT + 90 * MINUTE],
    ]);
  });

  it('moves the request rather than bump when one of the conflicting posts may not move', () => {
    const booked = [post('p-10', AT, { priority: 10 }), post('p-90', AT + 20 * MINUTE, { priority: 90 })];
    const result = allocateSlot(request({ priority: 80 }), booked, gap30);
    expect(result).toMatchObject({ at: AT + 50 * MINUTE, moves: [] });
    expect(result.reason).toContain('p-90');
  });

  it('checks every platform of a post moved out of the way', () => {
    const rules: SlotRulesByPlatform = { ...gap30, facebook: { minGapMs: HOUR, postsPer24h: null } };
    const booked = [
      post('both', AT + 10 * MINUTE, { platforms: ['instagram', 'facebook'], priority: 10 }),
      post('facebook', AT + 50 * MINUTE, { platforms: ['facebook'], priority: 90 }),
    ];
    expect(allocateSlot(request({ priority: 80 }), booked, rules).moves).toMatchObject([
      { publicationId: 'both', to: AT + 110 * MINUTE },
    ]);
  });
});

describe('allocateSlot: quota per 24 h', () => {
  it('moves the request to when the oldest post of a full window leaves it', () => {
    const booked = [0, 1, 2].map((i) => post(`fixed-${i}`, AT - (3 - i) * HOUR, { movable: false }));
    expect(allocateSlot(request(), booked, quota(3))).toEqual({
      at: AT - 3 * HOUR + DAY,
      reason: 'instagram quota of 3 posts per 24 h reached',
      moves: [],
    });
  });

  it('counts the window the request opens as well as those it closes', () => {
    const booked = [post('later-1', AT + 2 * HOUR, { priority: 90 }), post('later-2', AT + 20 * HOUR, { priority: 90 })];
    expect(allocateSlot(request(), booked, quota(2)).at).toBe(AT + 2 * HOUR + DAY);
  });

  it('accepts a post exactly 24 h after another', () => {
    expect(allocateSlot(request(), [post('yesterday', AT - DAY, { movable: false })], quota(1)).at).toBe(AT);
  });

  it('pushes only the lowest-priority post of a full window when that is enough', () => {
    const booked = [
      post('p-40', AT - 2 * HOUR, { priority: 40 }),
      post('p-10', AT - HOUR, { priority: 10 }),
      post('p-30', AT + HOUR, { priority: 30 }),
    ];
    const result = allocateSlot(request({ priority: 80 }), booked, quota(3));
    expect(result.at).toBe(AT);
    expect(result.moves).toEqual([
      {
        publicationId: 'p-10',
        from: AT - HOUR,
        to: AT - 2 * HOUR + DAY,
        reason: 'instagram quota of 3 posts per 24 h reached: publication request (priority 80) goes first',
      },
    ]);
  });

  it('moves the request when the window is full of posts it may not push', () => {
    const booked = [post('p-10', AT - HOUR, { priority: 10 }), post('p-90', AT + HOUR, { priority: 90 })];
    const result = allocateSlot(request({ priority: 80 }), booked, quota(1));
    expect(result.at).toBe(AT + HOUR + DAY);
    expect(result.moves).toEqual([]);
  });
});

describe('allocateSlot: errors', () => {
  it('gives up after 30 days with no_free_slot', () => {
    const booked = Array.from({ length: 40 }, (_, i) => post(`daily-${i}`, AT + i * 23 * HOUR, { movable: false }));
    const attempt = () => allocateSlot(request(), booked, quota(1));
    expect(attempt).toThrow(DomainError);
    expect(attempt).toThrow(expect.objectContaining({ code: 'no_free_slot' }));
  });

  it('refuses a negative gap or a quota below 1', () => {
    for (const rules of [
      { instagram: { minGapMs: -1, postsPer24h: null } },
      { instagram: { minGapMs: 0, postsPer24h: 0 } },
      { instagram: { minGapMs: 0, postsPer24h: 1.5 } },
    ]) {
      expect(() => allocateSlot(request(), [], rules)).toThrow(expect.objectContaining({ code: 'invalid_slot_rules' }));
    }
  });
});

// ---- properties ---------------------------------------------------------------------------------------------------

interface Timed {
  platforms: Platform[];
  at: number;
}

/** Every broken rule among the posts: a pair too close, or more posts than the quota in a window. */
function brokenRules(posts: Timed[], rules: SlotRulesByPlatform): string[] {
  const broken: string[] = [];
  for (const platform of publicationPlatforms) {
    const platformRules = rules[platform];
    if (!platformRules) continue;
    const times = posts.filter((p) => p.platforms.includes(platform)).map((p) => p.at);
    times.forEach((a, i) =>
      times.slice(i + 1).forEach((b) => {
        if (Math.abs(a - b) < platformRules.minGapMs) broken.push(`${platform}: ${a} and ${b} too close`);
      }),
    );
    const limit = platformRules.postsPer24h;
    if (limit === null) continue;
    for (const start of times) {
      const inWindow = times.filter((t) => t >= start && t < start + DAY).length;
      if (inWindow > limit) broken.push(`${platform}: ${inWindow} posts from ${start}`);
    }
  }
  return broken;
}

const platformsArbitrary = fc.subarray([...publicationPlatforms], { minLength: 1, maxLength: 3 });
const timeArbitrary = fc.integer({ min: 0, max: 2 * 24 * 12 }).map((fiveMinutes) => AT + fiveMinutes * 5 * MINUTE);
const rulesArbitrary: fc.Arbitrary<SlotRulesByPlatform> = fc.dictionary(
  fc.constantFrom(...publicationPlatforms),
  fc.record({
    minGapMs: fc.constantFrom(0, 10 * MINUTE, 30 * MINUTE, 2 * HOUR),
    postsPer24h: fc.constantFrom(null, 1, 2, 3, 5),
  }),
);
const postArbitrary = fc.record({
  platforms: platformsArbitrary,
  at: timeArbitrary,
  priority: fc.constantFrom(10, 50, 80),
  movable: fc.boolean(),
});
/** A schedule that respects the rules, as the scheduler keeps it: posts that would break them are left out. */
const scenarioArbitrary = fc
  .record({
    rules: rulesArbitrary,
    candidates: fc.array(postArbitrary, { maxLength: 40, size: 'max' }),
    request: fc.record({ platforms: platformsArbitrary, at: timeArbitrary, priority: fc.constantFrom(10, 50, 80, 100) }),
  })
  .map(({ rules, candidates, request }) => {
    const booked: BookedPost[] = [];
    candidates.forEach((candidate, i) => {
      const next = { ...candidate, publicationId: `p${i}` };
      if (brokenRules([...booked, next], rules).length === 0) booked.push(next);
    });
    return { rules, booked, request: { ...request, publicationId: 'request' } };
  });

const allocate = (request: SlotRequest, booked: BookedPost[], rules: SlotRulesByPlatform) => {
  try {
    return allocateSlot(request, booked, rules);
  } catch (error) {
    if (error instanceof DomainError && error.code === 'no_free_slot') return null;
    throw error;
  }
};

describe('allocateSlot: properties', () => {
  it('leaves a schedule that keeps every gap and quota, moving nothing earlier', () => {
    fc.assert(
      fc.property(scenarioArbitrary, ({ rules, booked, request }) => {
        const result = allocate(request, booked, rules);
        if (result === null) return;
        expect(result.at).toBeGreaterThanOrEqual(request.at);
        expect(result.reason === null).toBe(result.at === request.at);
        if (result.at !== request.at) expect(result.moves).toEqual([]);
        const moved = new Map(result.moves.map((move) => [move.publicationId, move]));
        for (const move of result.moves) {
          const original = booked.find((p) => p.publicationId === move.publicationId);
          expect(original).toMatchObject({ at: move.from, movable: true });
          expect(original!.priority).toBeLessThan(request.priority);
          expect(move.to).toBeGreaterThan(move.from);
        }
        const after = [
          ...booked.map((p) => ({ ...p, at: moved.get(p.publicationId)?.to ?? p.at })),
          { ...request, at: result.at },
        ];
        expect(brokenRules(after, rules)).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });

  it('gives the same answer when the request is already booked', () => {
    fc.assert(
      fc.property(scenarioArbitrary, fc.boolean(), ({ rules, booked, request }, movable) => {
        const again = [...booked, { ...request, at: request.at + HOUR, movable }];
        expect(allocate(request, again, rules)).toEqual(allocate(request, booked, rules));
      }),
    );
  });
});
