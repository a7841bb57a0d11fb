import { z } from 'zod';
import { DomainError, type DomainErrorDetail } from './domain-error.js';
import type {
  Platform,
  PlatformState,
  PlatformStatus,
  PublicationCommand,
  PublicationRequest,
  PublicationState,
  PublicationStatus,
} from './publication.js';

/** Rules and helpers of the publication decider (publication.ts), kept apart so that file stays readable. */

/** A scheduled_time up to this much in the past is accepted ("publish now" sent with the client's clock). */
export const SCHEDULE_GRACE_MS = 60_000;
/**
 * Retry delay after attempt n: RETRY_BASE_SECONDS · 2^(n-1) (or the command's retry_backoff_ms · 2^(n-1)), at most
 * RETRY_MAX_SECONDS (unless Retry-After says more).
 */
export const RETRY_BASE_SECONDS = 60;
export const RETRY_MAX_SECONDS = 3_600;

type ExistingState = Exclude<PublicationState, { status: 'none' }>;
type FailedCommand = Extract<PublicationCommand, { type: 'RecordPlatformFailed' }>;

const utcTimestamp = z.iso.datetime();

export function assertValidRequest(request: PublicationRequest, now: string): void {
  const details: DomainErrorDetail[] = [];
  if (request.platforms.length === 0) {
    throw new DomainError('publication_has_no_platforms', 'A publication needs at least one platform', [
      { path: 'platforms', message: 'at least one platform is required' },
    ]);
  }
  const seen = new Set<Platform>();
  request.platforms.forEach((platform, index) => {
    if (seen.has(platform)) details.push({ path: `platforms.${index}`, message: `${platform} is listed twice` });
    seen.add(platform);
  });
  if (details.length > 0) throw new DomainError('duplicate_platforms', 'A platform is listed more than once', details);
  if (request.content.body.trim() === '' && request.content.media_urls.length === 0) {
    throw new DomainError('publication_content_empty', 'A publication needs a body or at least one medium', [
      { path: 'content.body', message: 'a body or at least one media_url is required' },
    ]);
  }
  assertValidTime(request.scheduled_time, now);
  const targeting = request.targeting;
  if (targeting?.age_range && targeting.age_range[0] > targeting.age_range[1]) {
    throw new DomainError('invalid_targeting', 'age_range must be [min, max]', [
      { path: 'targeting.age_range', message: 'min must not be greater than max' },
    ]);
  }
  if (targeting?.radius !== undefined && targeting.location === undefined) {
    throw new DomainError('invalid_targeting', 'A radius needs a location', [
      { path: 'targeting.radius', message: 'requires targeting.location' },
    ]);
  }
}

/** An ISO UTC time, not in the past (beyond SCHEDULE_GRACE_MS). */
export function assertValidTime(scheduledTime: string, now: string): void {
  if (!utcTimestamp.safeParse(scheduledTime).success) {
    throw new DomainError('invalid_scheduled_time', 'scheduled_time must be an ISO 8601 UTC time', [
      { path: 'scheduled_time', message: 'expected e.g. 2025-04-20T18:30:00Z' },
    ]);
  }
  if (Date.parse(scheduledTime) < Date.parse(now) - SCHEDULE_GRACE_MS) {
    throw new DomainError('scheduled_time_in_past', 'scheduled_time is in the past', [
      { path: 'scheduled_time', message: 'must not be in the past' },
    ]);
  }
}

/** Rescheduling is allowed only while no platform has started (nor been canceled). */
export function assertNotStarted(state: ExistingState): void {
  if (state.status === 'canceled') {
    throw new DomainError('invalid_transition', 'A canceled publication cannot be rescheduled', [
      { path: 'status', message: 'canceled → scheduled is not allowed' },
    ]);
  }
  const started = state.platforms.filter((p) => p.status !== 'scheduled' || p.attempts > 0);
  if (started.length > 0) {
    throw new DomainError(
      'publication_already_started',
      'A publication cannot be rescheduled once a platform has started',
      started.map((p) => ({ path: `platforms.${p.platform}.status`, message: `is ${p.status} after ${p.attempts} attempt(s)` })),
    );
  }
}

export function platformOf(state: ExistingState, platform: Platform): PlatformState {
  const found = state.platforms.find((p) => p.platform === platform);
  if (!found) {
    throw new DomainError('platform_not_targeted', `The publication is not for ${platform}`, [
      { path: 'platform', message: `must be one of ${state.platforms.map((p) => p.platform).join(', ')}` },
    ]);
  }
  return found;
}

export function assertPlatformStatus(platform: PlatformState, to: PlatformStatus, allowedFrom: PlatformStatus[]): void {
  if (!allowedFrom.includes(platform.status)) {
    throw new DomainError('invalid_transition', `${platform.platform} is ${platform.status}, it cannot become ${to}`, [
      {
        path: `platforms.${platform.platform}.status`,
        message: `${platform.status} → ${to} is not allowed; allowed from: ${allowedFrom.join(', ')}`,
      },
    ]);
  }
}

/** A result (published / failed) must be for the platform's attempt in progress. */
export function assertCurrentAttempt(platform: PlatformState, attemptId: string): void {
  if (platform.status !== 'publishing') {
    throw new DomainError('invalid_transition', `${platform.platform} is ${platform.status}, not publishing`, [
      { path: `platforms.${platform.platform}.status`, message: `a result needs publishing, not ${platform.status}` },
    ]);
  }
  if (platform.attempt_id !== attemptId) {
    throw new DomainError('stale_attempt', `Attempt ${attemptId} is not the current attempt`, [
      { path: 'attempt_id', message: `the current attempt is ${platform.attempt_id}` },
    ]);
  }
}

/** A platform starts no sooner than scheduled_time, or next_attempt_at for a retry. */
export function assertDue(state: ExistingState, platform: PlatformState, now: string): void {
  const due = platform.next_attempt_at ?? state.scheduled_time;
  if (Date.parse(now) < Date.parse(due)) {
    throw new DomainError('publication_not_due', `${platform.platform} is not due before ${due}`, [
      {
        path: platform.next_attempt_at ? `platforms.${platform.platform}.next_attempt_at` : 'scheduled_time',
        message: `is ${due}`,
      },
    ]);
  }
}

/**
 * A failure is retried when the worker says it is retryable, attempts remain and the publication was not canceled.
 * A permanent or validation error is never retried, whatever `retryable` says: the same request would fail again.
 * An auth failure is retried without an attempt limit (backoff capped at RETRY_MAX_SECONDS) until the account is reconnected.
 */
export function willRetry(state: ExistingState, platform: PlatformState, command: FailedCommand): boolean {
  if (!command.retryable) return false;
  if (command.error_class === 'permanent' || command.error_class === 'validation') return false;
  if (state.canceled_at !== null) return false;
  // A refused token is the account's problem, not the post's: the post waits for reconnection however long it takes.
  if (command.error_class === 'auth') return true;
  return platform.attempts < state.max_attempts;
}

/** Exponential backoff after the given attempt number, never sooner than the platform's Retry-After. */
export function retryAt(now: string, attempt: number, retryAfterSeconds?: number, backoffBaseMs = RETRY_BASE_SECONDS * 1_000): string {
  const backoffMs = Math.min(backoffBaseMs * 2 ** Math.max(0, attempt - 1), RETRY_MAX_SECONDS * 1_000);
  const delayMs = Math.max(backoffMs, (retryAfterSeconds ?? 0) * 1_000);
  return new Date(Date.parse(now) + Math.round(delayMs)).toISOString();
}

/**
 * The whole publication's status, from its platforms:
 * - some platform still waiting or publishing: scheduled if none has started yet, else publishing;
 * - otherwise: published if all are, partially_published if some are, canceled if some were canceled, else failed.
 */
export function overallStatus(platforms: PlatformState[]): PublicationStatus {
  const pending = platforms.filter((p) => p.status === 'scheduled' || p.status === 'publishing');
  if (pending.length > 0) {
    return platforms.some((p) => p.attempts > 0) ? 'publishing' : 'scheduled';
  }
  const published = platforms.filter((p) => p.status === 'published').length;
  if (published === platforms.length) return 'published';
  if (published > 0) return 'partially_published';
  if (platforms.some((p) => p.status === 'canceled')) return 'canceled';
  return 'failed';
}

export function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
