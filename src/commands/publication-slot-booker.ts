import type { Kysely } from 'kysely';
import type { Platform } from '../domain/publication-events.js';
import { allocateSlot, type BookedPost, type Move, type SlotRequest, type SlotRules } from '../domain/publication-slots.js';
import type { SharedDatabase } from '../infrastructure/database/kysely.js';
import type { PublicationScheduleTable } from '../projections/publication-schedule/publication-schedule-table.js';

const DAY_MS = 86_400_000;
/** How long a booking made here is remembered while the read model catches up with it. */
const RECENT_MS = 30_000;
/** How far ahead a free slot is looked for (the allocator gives up beyond). */
const HORIZON_MS = 31 * DAY_MS;

export interface Booking {
  at: number;
  /** Why the request itself moved, or null. */
  reason: string | null;
  /** Lower-priority publications to move out of the way. */
  moves: Move[];
}

/**
 * Finds a publication's slot under the per-account quotas and minimum gaps (publication-slots.ts) against what the
 * publication_schedule read model holds. Bookings are serialised in this process, and each one is remembered for a
 * moment, so two requests in quick succession see each other even before the read model has caught up.
 */
export class PublicationSlotBooker {
  private queue: Promise<unknown> = Promise.resolve();
  private readonly recent = new Map<string, { post: BookedPost; until: number }>();

  constructor(
    private readonly db: SharedDatabase,
    readonly rules: Partial<Record<Platform, SlotRules>>,
  ) {}

  /** Whether any rule applies to these platforms (if not, every time is free). */
  constrains(platforms: Platform[]): boolean {
    return platforms.some((p) => {
      const rule = this.rules[p];
      return rule !== undefined && (rule.minGapMs > 0 || rule.postsPer24h !== null);
    });
  }

  /**
   * Books a slot and runs `commit` (which appends the events) before the next booking starts. The booking is
   * remembered only when commit succeeds.
   */
  async book<T>(request: SlotRequest, commit: (booking: Booking) => Promise<T>): Promise<{ booking: Booking; result: T }> {
    if (!this.constrains(request.platforms)) {
      const booking = { at: request.at, reason: null, moves: [] };
      return { booking, result: await commit(booking) };
    }
    const run = this.queue.then(async () => {
      const booked = await this.booked(request);
      const booking = allocateSlot(request, booked, this.rules);
      const result = await commit(booking);
      this.remember({ publicationId: request.publicationId, platforms: request.platforms, at: booking.at, priority: request.priority, movable: true });
      for (const move of booking.moves) {
        const moved = booked.find((b) => b.publicationId === move.publicationId);
        if (moved) this.remember({ ...moved, at: move.to });
      }
      return { booking, result };
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** A canceled publication frees its slot at once, before the read model shows the cancellation. */
  forget(publicationId: string): void {
    this.recent.delete(publicationId);
  }

  private remember(post: BookedPost): void {
    const now = Date.now();
    for (const [id, entry] of this.recent) if (entry.until < now) this.recent.delete(id);
    this.recent.set(post.publicationId, { post, until: now + RECENT_MS });
  }

  private async booked(request: SlotRequest): Promise<BookedPost[]> {
    const maxGap = Math.max(0, ...request.platforms.map((p) => this.rules[p]?.minGapMs ?? 0));
    const from = new Date(request.at - DAY_MS - maxGap);
    const to = new Date(request.at + HORIZON_MS + DAY_MS);
    const rows = await (this.db as Kysely<PublicationScheduleTable>)
      .selectFrom('publication_schedule')
      .select(['publication_id', 'platform', 'status', 'due_at', 'priority', 'attempts', 'started_at', 'published_at'])
      .where('platform', 'in', request.platforms)
      .where('status', 'in', ['scheduled', 'publishing', 'published'])
      .where((eb) => eb.or([eb.between('due_at', from, to), eb.between('published_at', from, to)]))
      .execute();
    const posts = new Map<string, BookedPost>();
    for (const row of rows) {
      const waiting = row.status === 'scheduled' && row.attempts === 0;
      if (!waiting) {
        // Started or published: it holds its time (when it actually went out) and cannot move.
        const at = (row.published_at ?? row.started_at ?? row.due_at).getTime();
        posts.set(`${row.publication_id}/${row.platform}`, { publicationId: row.publication_id, platforms: [row.platform as Platform], at, priority: row.priority, movable: false });
        continue;
      }
      const existing = posts.get(row.publication_id);
      if (existing) existing.platforms.push(row.platform as Platform);
      else posts.set(row.publication_id, { publicationId: row.publication_id, platforms: [row.platform as Platform], at: row.due_at.getTime(), priority: row.priority, movable: true });
    }
    const now = Date.now();
    for (const [id, entry] of this.recent) {
      if (entry.until >= now) posts.set(id, entry.post);
    }
    return [...posts.values()];
  }
}
