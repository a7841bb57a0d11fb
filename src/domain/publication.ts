import type { Decider } from './decider.js';
import { DomainError } from './domain-error.js';
import {
  assertCurrentAttempt,
  assertDue,
  assertNotStarted,
  assertPlatformStatus,
  assertValidRequest,
  assertValidTime,
  overallStatus,
  platformOf,
  retryAt,
  truncate,
  willRetry,
} from './publication-rules.js';
import {
  MAX_ERROR_MESSAGE_LENGTH,
  MAX_PUBLISH_ATTEMPTS,
  type Platform,
  type PlatformStatus,
  type PublicationContent,
  type PublicationEvent,
  type PublicationRequest,
  type PublicationStatus,
  type PublishErrorClass,
  type Targeting,
} from './publication-events.js';

export * from './publication-events.js';
export { overallStatus, RETRY_BASE_SECONDS, RETRY_MAX_SECONDS, SCHEDULE_GRACE_MS } from './publication-rules.js';

/**
 * Publication: one piece of content posted to one or several social platforms (spec "POST /api/communication/publish"),
 * each platform with its own status.
 *
 * Per platform: scheduled → publishing → published | failed. A failed attempt goes back to scheduled (with a
 * next_attempt_at, exponential backoff) when it is retryable and attempts remain; a platform still waiting when the
 * publication is canceled becomes canceled. A platform already publishing when the publication is canceled finishes:
 * its result is still recorded (the post may exist), but it is not retried.
 *
 * The whole publication's status is derived from its platforms (see overallStatus):
 * scheduled | publishing | published | partially_published | failed | canceled.
 *
 * Only the basic shape is checked here (at least one platform, no duplicates, a body or a medium); the per-platform
 * content rules (lengths, media counts...) belong elsewhere.
 */

// ---- commands -----------------------------------------------------------------------------------------------------

/** `now` is given by the caller: deciders read no clock. */
export type PublicationCommand =
  | { type: 'SchedulePublication'; publication_id: string; request: PublicationRequest; now: string }
  | { type: 'ReschedulePublication'; publication_id: string; scheduled_time: string; reason: string; now: string }
  | { type: 'CancelPublication'; publication_id: string; reason?: string; now: string }
  | { type: 'StartPlatformPublishing'; publication_id: string; platform: Platform; attempt_id: string; publish_by?: string; now: string }
  | {
      type: 'RecordPlatformPublished';
      publication_id: string;
      platform: Platform;
      attempt_id: string;
      post_id: string;
      post_url?: string;
      now: string;
    }
  | {
      type: 'RecordPlatformFailed';
      publication_id: string;
      platform: Platform;
      attempt_id: string;
      error_class: PublishErrorClass;
      message: string;
      retryable: boolean;
      /** The platform's Retry-After, if it gave one: the retry is not sooner than this. */
      retry_after_seconds?: number;
      /**
       * The pause before the first retry, doubled for each later one (the worker's COMM_PUBLISH_RETRY_BACKOFF_MS).
       * Default RETRY_BASE_SECONDS. The event records the time it gives, so a replay never depends on the setting.
       */
      retry_backoff_ms?: number;
      now: string;
    };

// ---- state --------------------------------------------------------------------------------------------------------

export interface PlatformState {
  platform: Platform;
  status: PlatformStatus;
  /** Attempts started so far. */
  attempts: number;
  /** The current attempt while publishing, else the last one (null before the first). */
  attempt_id: string | null;
  attempt_ids: string[];
  started_at: string | null;
  /** The current attempt's deadline, when it was recorded with one (the read model does not keep it). */
  publish_by?: string | null;
  /** When a retry is due (after a retryable failure). */
  next_attempt_at: string | null;
  post_id: string | null;
  post_url: string | null;
  published_at: string | null;
  last_error: { attempt_id: string; error_class: PublishErrorClass; message: string; failed_at: string } | null;
}

export interface PublicationFields {
  publication_id: string;
  content: PublicationContent;
  platforms: PlatformState[];
  scheduled_time: string;
  targeting: Targeting | null;
  campaign_id: string | null;
  priority: number;
  max_attempts: number;
  requested_at: string;
  canceled_at: string | null;
  cancel_reason: string | null;
}

export type PublicationState = { status: 'none' } | ({ status: PublicationStatus } & PublicationFields);

export const publicationDecider: Decider<PublicationCommand, PublicationEvent, PublicationState> = {
  initialState: () => ({ status: 'none' }),
  decide,
  evolve,
};

function decide(command: PublicationCommand, state: PublicationState): PublicationEvent[] {
  const publication_id = command.publication_id;
  const now = command.now;
  if (command.type === 'SchedulePublication') {
    if (state.status !== 'none') {
      throw new DomainError('publication_already_exists', `Publication ${publication_id} already exists`);
    }
    const request = command.request;
    assertValidRequest(request, now);
    return [
      {
        type: 'PublicationScheduled',
        data: {
          publication_id,
          content: request.content,
          platforms: request.platforms,
          scheduled_time: request.scheduled_time,
          targeting: request.targeting ?? null,
          campaign_id: request.campaign_id ?? null,
          priority: request.priority,
          max_attempts: MAX_PUBLISH_ATTEMPTS,
          requested_at: now,
        },
      },
    ];
  }
  if (state.status === 'none') {
    throw new DomainError('publication_not_found', `Publication ${publication_id} does not exist`);
  }
  switch (command.type) {
    case 'ReschedulePublication': {
      assertNotStarted(state);
      assertValidTime(command.scheduled_time, now);
      const reason = command.reason.trim();
      if (reason === '') {
        throw new DomainError('reschedule_reason_required', 'A reschedule needs a reason', [
          { path: 'reason', message: 'must not be empty' },
        ]);
      }
      if (Date.parse(command.scheduled_time) === Date.parse(state.scheduled_time)) return [];
      return [
        {
          type: 'PublicationRescheduled',
          data: {
            publication_id,
            previous_time: state.scheduled_time,
            scheduled_time: command.scheduled_time,
            reason,
            rescheduled_at: now,
          },
        },
      ];
    }
    case 'CancelPublication': {
      const waiting = state.platforms.filter((p) => p.status === 'scheduled').map((p) => p.platform);
      if (waiting.length === 0) {
        throw new DomainError(
          'publication_not_cancelable',
          'No platform of this publication is still waiting to be published',
          state.platforms.map((p) => ({ path: `platforms.${p.platform}.status`, message: `is ${p.status}` })),
        );
      }
      const reason = command.reason ?? '';
      return [{ type: 'PublicationCanceled', data: { publication_id, platforms: waiting, reason, canceled_at: now } }];
    }
    case 'StartPlatformPublishing': {
      const platform = platformOf(state, command.platform);
      if (platform.status === 'publishing' && platform.attempt_id === command.attempt_id) return [];
      assertPlatformStatus(platform, 'publishing', ['scheduled']);
      if (platform.attempt_ids.includes(command.attempt_id)) {
        throw new DomainError('attempt_id_reused', `Attempt ${command.attempt_id} was already used`, [
          { path: 'attempt_id', message: 'must be new for each attempt' },
        ]);
      }
      assertDue(state, platform, now);
      return [
        {
          type: 'PlatformPublishingStarted',
          data: {
            publication_id,
            platform: command.platform,
            attempt_id: command.attempt_id,
            attempt: platform.attempts + 1,
            started_at: now,
            ...(command.publish_by ? { publish_by: command.publish_by } : {}),
          },
        },
      ];
    }
    case 'RecordPlatformPublished': {
      const platform = platformOf(state, command.platform);
      if (platform.status === 'published') {
        if (platform.post_id === command.post_id) return [];
        throw new DomainError('platform_already_published', `${command.platform} was already published`, [
          { path: `platforms.${command.platform}.post_id`, message: `already published as ${platform.post_id}` },
        ]);
      }
      assertCurrentAttempt(platform, command.attempt_id);
      return [
        {
          type: 'PlatformPublished',
          data: {
            publication_id,
            platform: command.platform,
            attempt_id: command.attempt_id,
            post_id: command.post_id,
            post_url: command.post_url ?? null,
            published_at: now,
          },
        },
      ];
    }
    case 'RecordPlatformFailed': {
      const platform = platformOf(state, command.platform);
      // The same failure reported twice (a redelivered worker message): already recorded.
      if (platform.status !== 'publishing' && platform.last_error?.attempt_id === command.attempt_id) return [];
      assertCurrentAttempt(platform, command.attempt_id);
      const retry = willRetry(state, platform, command);
      return [
        {
          type: 'PlatformPublishFailed',
          data: {
            publication_id,
            platform: command.platform,
            attempt_id: command.attempt_id,
            attempt: platform.attempts,
            error_class: command.error_class,
            message: truncate(command.message, MAX_ERROR_MESSAGE_LENGTH),
            retryable: command.retryable,
            will_retry: retry,
            next_attempt_at: retry ? retryAt(now, platform.attempts, command.retry_after_seconds, command.retry_backoff_ms) : null,
            failed_at: now,
          },
        },
      ];
    }
  }
}

function evolve(state: PublicationState, event: PublicationEvent): PublicationState {
  if (event.type === 'PublicationScheduled') {
    const { platforms, ...fields } = event.data;
    const initial: PlatformState[] = platforms.map((platform) => ({
      platform,
      status: 'scheduled',
      attempts: 0,
      attempt_id: null,
      attempt_ids: [],
      started_at: null,
      next_attempt_at: null,
      post_id: null,
      post_url: null,
      published_at: null,
      last_error: null,
    }));
    return { ...fields, status: 'scheduled', platforms: initial, canceled_at: null, cancel_reason: null };
  }
  if (state.status === 'none') return state;
  const next = evolveExisting(state, event);
  return { ...next, status: overallStatus(next.platforms) };
}

type ExistingState = Exclude<PublicationState, { status: 'none' }>;

function evolveExisting(
  state: ExistingState,
  event: Exclude<PublicationEvent, { type: 'PublicationScheduled' }>,
): ExistingState {
  const update = (platform: Platform, change: (p: PlatformState) => PlatformState): ExistingState => ({
    ...state,
    platforms: state.platforms.map((p) => (p.platform === platform ? change(p) : p)),
  });
  switch (event.type) {
    case 'PublicationRescheduled':
      return { ...state, scheduled_time: event.data.scheduled_time };
    case 'PublicationCanceled': {
      const canceled = new Set<Platform>(event.data.platforms);
      return {
        ...state,
        canceled_at: event.data.canceled_at,
        cancel_reason: event.data.reason,
        platforms: state.platforms.map((p) => (canceled.has(p.platform) ? { ...p, status: 'canceled' } : p)),
      };
    }
    case 'PlatformPublishingStarted':
      return update(event.data.platform, (p) => ({
        ...p,
        status: 'publishing',
        attempts: event.data.attempt,
        attempt_id: event.data.attempt_id,
        attempt_ids: [...p.attempt_ids, event.data.attempt_id],
        started_at: event.data.started_at,
        publish_by: event.data.publish_by ?? null,
        next_attempt_at: null,
      }));
    case 'PlatformPublished':
      return update(event.data.platform, (p) => ({
        ...p,
        status: 'published',
        post_id: event.data.post_id,
        post_url: event.data.post_url,
        published_at: event.data.published_at,
      }));
    case 'PlatformPublishFailed': {
      const { attempt_id, error_class, message, failed_at } = event.data;
      return update(event.data.platform, (p) => ({
        ...p,
        status: event.data.will_retry ? 'scheduled' : 'failed',
        next_attempt_at: event.data.next_attempt_at,
        last_error: { attempt_id, error_class, message, failed_at },
      }));
    }
  }
}
