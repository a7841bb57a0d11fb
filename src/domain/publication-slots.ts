import { DomainError } from './domain-error.js';
import type { Platform } from './publication-events.js';

/**
 * Where a publication goes in the schedule of the accounts it posts to, given what is already booked: per platform
 * (one account each), a minimum gap between two posts and a quota of posts per rolling 24 h.
 *
 * A request conflicting only with movable posts of strictly lower priority keeps its time, and those posts move
 * later (each to its own next free slot, higher priority first, bumping nothing else); otherwise the request moves
 * to its own next free slot. Nothing ever moves earlier: a post may not go out before the time its author chose.
 * Pure: times are epoch milliseconds given by the caller.
 */

export interface SlotRules {
  /** Two posts on the account are at least this far apart; 0: no gap. */
  minGapMs: number;
  /** Posts allowed in any 24 h window on the account; null: no quota. */
  postsPer24h: number | null;
}

export type SlotRulesByPlatform = Partial<Record<Platform, SlotRules>>;

export interface BookedPost {
  publicationId: string;
  platforms: Platform[];
  /** Epoch ms. */
  at: number;
  priority: number;
  /** false once started or published: it holds its slot and counts toward quotas. */
  movable: boolean;
}

export interface SlotRequest {
  publicationId: string;
  platforms: Platform[];
  at: number;
  priority: number;
}

export interface Move {
  publicationId: string;
  from: number;
  to: number;
  reason: string;
}

export interface SlotAllocation {
  at: number;
  /** Why the request moved, or null when it keeps its time. */
  reason: string | null;
  /** Lower-priority posts moved later to make room for the request. */
  moves: Move[];
}

export const QUOTA_WINDOW_MS = 24 * 60 * 60 * 1_000;
/** Beyond this, a free slot is not worth looking for: the rules or the bookings are wrong. */
export const SLOT_SEARCH_HORIZON_DAYS = 30;
const SLOT_SEARCH_HORIZON_MS = SLOT_SEARCH_HORIZON_DAYS * QUOTA_WINDOW_MS;

export function allocateSlot(request: SlotRequest, booked: BookedPost[], rules: SlotRulesByPlatform): SlotAllocation {
  assertValidRules(rules);
  // The request may already be booked (a retried command): its old booking must not block it.
  const others = booked.filter((post) => post.publicationId !== request.publicationId);
  const plan = planBumps(request, others, rules);
  if (plan.obstacle === null) {
    const moves = placeBumped(request, others, plan.bumped, rules);
    if (moves !== null) return { at: request.at, reason: null, moves };
  }
  const at = nextFreeSlot(request, request.at, others, rules);
  const reason = plan.obstacle ?? `a post it would push has no free slot within ${SLOT_SEARCH_HORIZON_DAYS} days`;
  return { at, reason: at === request.at ? null : reason, moves: [] };
}

// ---- conflicts ----------------------------------------------------------------------------------------------------

/** What a post is placed among: its platforms and time are all that matter. */
interface Placed {
  platforms: readonly Platform[];
  at: number;
}

const sharesPlatform = (post: Placed, platform: Platform): boolean => post.platforms.includes(platform);

function gapBlockers<T extends Placed>(at: number, platform: Platform, others: T[], rules: SlotRules): T[] {
  return others.filter((other) => sharesPlatform(other, platform) && Math.abs(other.at - at) < rules.minGapMs);
}

/**
 * The groups of `postsPer24h` posts on the platform that, with a post at `at`, would fit in one 24 h window
 * (empty: the quota allows the post). Any such group can be taken among consecutive posts, so those are the only
 * ones looked at.
 */
function quotaGroups<T extends Placed>(at: number, platform: Platform, others: T[], rules: SlotRules): T[][] {
  const limit = rules.postsPer24h;
  if (limit === null) return [];
  const near = others
    .filter((other) => sharesPlatform(other, platform) && Math.abs(other.at - at) < QUOTA_WINDOW_MS)
    .sort((a, b) => a.at - b.at);
  const groups: T[][] = [];
  for (let start = 0; start + limit <= near.length; start += 1) {
    const group = near.slice(start, start + limit);
    const first = Math.min(at, group[0]?.at ?? at);
    const last = Math.max(at, group[group.length - 1]?.at ?? at);
    if (last - first < QUOTA_WINDOW_MS) groups.push(group);
  }
  return groups;
}

function ruledPlatforms(post: Placed, rules: SlotRulesByPlatform): [Platform, SlotRules][] {
  return post.platforms.flatMap((platform) => {
    const platformRules = rules[platform];
    return platformRules ? [[platform, platformRules] as [Platform, SlotRules]] : [];
  });
}

/**
 * The earliest time ≥ from where the post conflicts with none of the others. Whether a time is free only changes
 * for the better at another post's time + the gap, or its time + 24 h (when it leaves the quota window), so the
 * search jumps from one of those to the next.
 */
function nextFreeSlot(post: Placed, from: number, others: Placed[], rules: SlotRulesByPlatform): number {
  const ruled = ruledPlatforms(post, rules);
  let at = from;
  while (at <= from + SLOT_SEARCH_HORIZON_MS) {
    const busy = ruled.some(
      ([platform, platformRules]) =>
        gapBlockers(at, platform, others, platformRules).length > 0 ||
        quotaGroups(at, platform, others, platformRules).length > 0,
    );
    if (!busy) return at;
    at = nextCandidate(at, ruled, others);
  }
  const until = from + SLOT_SEARCH_HORIZON_MS;
  throw new DomainError('no_free_slot', `No free slot within ${SLOT_SEARCH_HORIZON_DAYS} days`, [
    { path: 'scheduled_time', message: `every time from ${iso(from)} to ${iso(until)} breaks a gap or a quota` },
  ]);
}

function nextCandidate(at: number, ruled: [Platform, SlotRules][], others: Placed[]): number {
  let next = Infinity;
  for (const [platform, platformRules] of ruled) {
    for (const other of others) {
      if (!sharesPlatform(other, platform)) continue;
      for (const candidate of [other.at + platformRules.minGapMs, other.at + QUOTA_WINDOW_MS]) {
        if (candidate > at && candidate < next) next = candidate;
      }
    }
  }
  return next;
}

// ---- bumping lower priorities -------------------------------------------------------------------------------------

interface Bumped {
  post: BookedPost;
  reason: string;
}

/**
 * The posts the request would push away to keep its time, or the obstacle (a post it may not push) that makes it
 * move instead. A quota is relieved by pushing the fewest posts, lowest priority first, among those sharing an
 * overfull window with the request.
 */
function planBumps(
  request: SlotRequest,
  others: BookedPost[],
  rules: SlotRulesByPlatform,
): { bumped: Bumped[]; obstacle: string | null } {
  const bumped: Bumped[] = [];
  const isBumped = (post: BookedPost): boolean => bumped.some((b) => b.post === post);
  const mayBump = (post: BookedPost): boolean => post.movable && post.priority < request.priority;
  const ruled = ruledPlatforms(request, rules);
  for (const [platform, platformRules] of ruled) {
    const gap = `minimum gap of ${formatDuration(platformRules.minGapMs)} on ${platform}`;
    for (const blocker of gapBlockers(request.at, platform, others, platformRules)) {
      if (!mayBump(blocker)) return { bumped: [], obstacle: `${gap} with ${describe(blocker)}` };
      if (!isBumped(blocker)) bumped.push({ post: blocker, reason: `${gap} with ${describe(request)}` });
    }
  }
  for (const [platform, platformRules] of ruled) {
    const quota = `${platform} quota of ${platformRules.postsPer24h} posts per 24 h reached`;
    for (;;) {
      const remaining = others.filter((post) => !isBumped(post));
      const candidates = quotaGroups(request.at, platform, remaining, platformRules).flat().filter(mayBump);
      if (candidates.length === 0) {
        const full = quotaGroups(request.at, platform, remaining, platformRules).length > 0;
        if (full) return { bumped: [], obstacle: quota };
        break;
      }
      const lowest = candidates.sort(byPriorityThenLatest)[0] as BookedPost;
      bumped.push({ post: lowest, reason: `${quota}: ${describe(request)} goes first` });
    }
  }
  return { bumped, obstacle: null };
}

/** Lowest priority first; among equals the latest, whose move disturbs the schedule least. */
function byPriorityThenLatest(a: BookedPost, b: BookedPost): number {
  return a.priority - b.priority || b.at - a.at || a.publicationId.localeCompare(b.publicationId);
}

/**
 * Each bumped post to its next free slot after its time, highest priority first, among the request, the posts that
 * stay and those already placed (the bumped posts not yet placed are leaving their slots). null when one finds no
 * slot: the request then moves instead.
 */
function placeBumped(
  request: SlotRequest,
  others: BookedPost[],
  bumped: Bumped[],
  rules: SlotRulesByPlatform,
): Move[] | null {
  const order = [...bumped].sort(
    (a, b) =>
      b.post.priority - a.post.priority ||
      a.post.at - b.post.at ||
      a.post.publicationId.localeCompare(b.post.publicationId),
  );
  const placed: Placed[] = [request, ...others.filter((post) => !bumped.some((b) => b.post === post))];
  const moves: Move[] = [];
  for (const { post, reason } of order) {
    let to: number;
    try {
      to = nextFreeSlot(post, post.at, placed, rules);
    } catch (error) {
      if (error instanceof DomainError && error.code === 'no_free_slot') return null;
      throw error;
    }
    placed.push({ platforms: post.platforms, at: to });
    if (to !== post.at) moves.push({ publicationId: post.publicationId, from: post.at, to, reason });
  }
  return moves;
}

// ---- rules and wording --------------------------------------------------------------------------------------------

function assertValidRules(rules: SlotRulesByPlatform): void {
  for (const [platform, platformRules] of Object.entries(rules)) {
    if (!platformRules) continue;
    const { minGapMs, postsPer24h } = platformRules;
    if (!Number.isFinite(minGapMs) || minGapMs < 0) {
      throw new DomainError('invalid_slot_rules', `The minimum gap on ${platform} must be a duration ≥ 0`, [
        { path: `${platform}.minGapMs`, message: `is ${minGapMs}` },
      ]);
    }
    if (postsPer24h !== null && (!Number.isInteger(postsPer24h) || postsPer24h < 1)) {
      // A quota of 0 would leave no slot at all: a paused account is not the scheduler's business.
      throw new DomainError('invalid_slot_rules', `The quota on ${platform} must be a whole number ≥ 1, or none`, [
        { path: `${platform}.postsPer24h`, message: `is ${postsPer24h}` },
      ]);
    }
  }
}

function describe(post: { publicationId: string; priority: number; movable?: boolean }): string {
  const fixed = post.movable === false ? ', already started or published' : '';
  return `publication ${post.publicationId} (priority ${post.priority}${fixed})`;
}

function formatDuration(ms: number): string {
  const units: [number, string][] = [
    [3_600_000, 'h'],
    [60_000, 'min'],
    [1_000, 's'],
  ];
  for (const [size, unit] of units) {
    if (ms >= size && ms % size === 0) return `${ms / size} ${unit}`;
  }
  return `${ms} ms`;
}

const iso = (ms: number): string => new Date(ms).toISOString();
