import { isDomainError } from '../domain/domain-error.js';
import {
  publicationDecider,
  publicationEvents,
  type PublicationCommand,
  type PublicationEvent,
  type PublicationRequest,
  type PublicationState,
} from '../domain/publication.js';
import type { EventStore, Position } from '../infrastructure/event-store/event-store.js';
import type { Logger } from '../infrastructure/logging/logger.js';
import { CommandHandler, type CommandContext } from './command-handler.js';
import type { Booking, PublicationSlotBooker } from './publication-slot-booker.js';

export const publicationStreamId = (publicationId: string) => `publication-${publicationId}`;

export interface Published {
  booking: Booking;
  state: PublicationState;
  /** Covers the moves of other publications too, so min_position reads them. */
  position: Position | null;
}

/**
 * Schedules a publication the way POST /publish does, for the route and for campaigns: the slot is booked under the
 * per-account quotas and gaps (which may move this publication, or lower-priority ones out of its way), then
 * SchedulePublication, and ReschedulePublication when the slot differs from the time asked. Content rules are the
 * caller's to check first.
 */
export class PublicationPublisher {
  readonly handler: CommandHandler<PublicationCommand, PublicationEvent, PublicationState>;

  constructor(
    store: EventStore,
    readonly booker: PublicationSlotBooker,
    private readonly logger: Logger,
  ) {
    this.handler = new CommandHandler(store, publicationDecider, publicationEvents);
  }

  /** request.scheduled_time in UTC. Throws the decider's DomainError (publication_already_exists for a known id…). */
  async publish(id: string, request: PublicationRequest, context: CommandContext): Promise<Published> {
    const requested = request.scheduled_time;
    const { booking, result } = await this.booker.book({ publicationId: id, platforms: request.platforms, at: Date.parse(requested), priority: request.priority }, async (booking) => {
      const scheduled = await this.handler.handle(
        publicationStreamId(id),
        { type: 'SchedulePublication', publication_id: id, request, now: context.now.toISOString() },
        context,
        { creates: true },
      );
      let last = scheduled;
      if (booking.at !== Date.parse(requested)) {
        last = await this.handler.handle(
          publicationStreamId(id),
          { type: 'ReschedulePublication', publication_id: id, scheduled_time: new Date(booking.at).toISOString(), reason: booking.reason ?? 'slot taken', now: context.now.toISOString() },
          context,
          { loaded: { state: scheduled.state, revision: scheduled.revision } },
        );
      }
      const movedAt = await this.moveOthers(booking.moves, context);
      return { state: last.state, position: movedAt ?? last.position };
    });
    return { booking, state: result.state, position: result.position };
  }

  /** Lower-priority publications make way; one that started meanwhile keeps its time (logged). */
  async moveOthers(moves: { publicationId: string; to: number; reason: string }[], context: CommandContext): Promise<Position | null> {
    let last: Position | null = null;
    for (const move of moves) {
      try {
        const moved = await this.handler.handle(
          publicationStreamId(move.publicationId),
          { type: 'ReschedulePublication', publication_id: move.publicationId, scheduled_time: new Date(move.to).toISOString(), reason: move.reason, now: context.now.toISOString() },
          context,
        );
        last = moved.position ?? last;
      } catch (error) {
        if (!isDomainError(error)) throw error;
        this.logger.warn({ publication_id: move.publicationId, code: error.code }, 'could not move a lower-priority publication');
      }
    }
    return last;
  }
}
