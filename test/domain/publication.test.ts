import { describe, expect, it } from 'vitest';
import { fold } from '../../src/domain/decider.js';
import {
  MAX_ERROR_MESSAGE_LENGTH,
  MAX_PUBLISH_ATTEMPTS,
  publicationDecider,
  publicationEvents,
  publicationPlatforms,
  publicationRequestSchema,
  publishErrorClasses,
  type Platform,
  type PublicationCommand,
  type PublicationEvent,
  type PublicationRequest,
  type PublicationState,
  type PublishErrorClass,
} from '../../src/domain/publication.js';
import { expectConformToCatalogue, given, randomGenerator, randomWalk, recording, run } from './given-when-then.js';

const publication_id = 'a7c2e4d6-1b3f-4a5c-9d8e-7f6a5b4c3d2e';
const campaign_id = '3f1c2b8e-5d4a-4c9b-8f2e-1a2b3c4d5e6f';
/** When the publication is requested. */
const NOW = '2025-04-20T10:00:00.000Z';
/** Its scheduled_time, as the client sends it, and the same instant as the worker's clock gives it. */
const AT = '2025-04-20T18:30:00Z';
const DUE = '2025-04-20T18:30:00.000Z';
const plus = (iso: string, seconds: number): string => new Date(Date.parse(iso) + seconds * 1_000).toISOString();

const request: PublicationRequest = publicationRequestSchema.parse({
  content: {
    title: 'Promotion du jour',
    body: 'Profitez de notre offre spéciale sur les pizzas !',
    media_urls: ['https://example.com/images/promo.jpg'],
    hashtags: ['promotion', 'pizza', 'vieuxmoulin'],
  },
  platforms: ['facebook', 'instagram'],
  scheduled_time: AT,
  targeting: { location: 'Vensac', radius: 20, age_range: [18, 65] },
  campaign_id,
});
const withRequest = (changes: Partial<PublicationRequest>): PublicationRequest => ({ ...request, ...changes });
const withContent = (changes: Partial<PublicationRequest['content']>): PublicationRequest =>
  withRequest({ content: { ...request.content, ...changes } });

const decider = recording(publicationDecider);

// ---- events -------------------------------------------------------------------------------------------------------

type Data<T extends PublicationEvent['type']> = Extract<PublicationEvent, { type: T }>['data'];

const scheduled = (changes: Partial<Data<'PublicationScheduled'>> = {}): PublicationEvent => ({
  type: 'PublicationScheduled',
  data: {
    publication_id,
    content: request.content,
    platforms: ['facebook', 'instagram'],
    scheduled_time: AT,
    targeting: request.targeting ?? null,
    campaign_id,
    priority: 50,
    max_attempts: MAX_PUBLISH_ATTEMPTS,
    requested_at: NOW,
    ...changes,
  },
});
const attemptId = (platform: Platform, attempt = 1): string => `${platform}-attempt-${attempt}`;
const started = (platform: Platform, attempt = 1, started_at = DUE): PublicationEvent => ({
  type: 'PlatformPublishingStarted',
  data: { publication_id, platform, attempt_id: attemptId(platform, attempt), attempt, started_at },
});
const published = (platform: Platform, attempt = 1): PublicationEvent => ({
  type: 'PlatformPublished',
  data: {
    publication_id,
    platform,
    attempt_id: attemptId(platform, attempt),
    post_id: `${platform}_12345`,
    post_url: `https://${platform}.example.com/posts/12345`,
    published_at: plus(DUE, 2),
  },
});
const failed = (
  platform: Platform,
  attempt: number,
  will_retry: boolean,
  changes: Partial<Data<'PlatformPublishFailed'>> = {},
): PublicationEvent => ({
  type: 'PlatformPublishFailed',
  data: {
    publication_id,
    platform,
    attempt_id: attemptId(platform, attempt),
    attempt,
    error_class: 'transient',
    message: 'HTTP 503',
    retryable: will_retry,
    will_retry,
    next_attempt_at: will_retry ? plus(DUE, 60 * 2 ** (attempt - 1)) : null,
    failed_at: DUE,
    ...changes,
  },
});
const canceled = (platforms: Platform[], reason = ''): PublicationEvent => ({
  type: 'PublicationCanceled',
  data: { publication_id, platforms, reason, canceled_at: NOW },
});

// ---- commands -----------------------------------------------------------------------------------------------------

const schedule = (r: PublicationRequest = request, now = NOW): PublicationCommand => ({
  type: 'SchedulePublication',
  publication_id,
  request: r,
  now,
});
const reschedule = (scheduled_time: string, reason = 'conflit avec une publication prioritaire'): PublicationCommand => ({
  type: 'ReschedulePublication',
  publication_id,
  scheduled_time,
  reason,
  now: NOW,
});
const cancel = (reason?: string): PublicationCommand => ({ type: 'CancelPublication', publication_id, reason, now: NOW });
const start = (platform: Platform, attempt = 1, now = DUE): PublicationCommand => ({
  type: 'StartPlatformPublishing',
  publication_id,
  platform,
  attempt_id: attemptId(platform, attempt),
  now,
});
type PublishedCommand = Extract<PublicationCommand, { type: 'RecordPlatformPublished' }>;
type FailedCommand = Extract<PublicationCommand, { type: 'RecordPlatformFailed' }>;

const recordPublished = (platform: Platform, attempt = 1, post_id = `${platform}_12345`): PublishedCommand => ({
  type: 'RecordPlatformPublished',
  publication_id,
  platform,
  attempt_id: attemptId(platform, attempt),
  post_id,
  post_url: `https://${platform}.example.com/posts/12345`,
  now: plus(DUE, 2),
});
const recordFailed = (platform: Platform, attempt: number, changes: Partial<FailedCommand> = {}): FailedCommand => ({
  type: 'RecordPlatformFailed',
  publication_id,
  platform,
  attempt_id: attemptId(platform, attempt),
  error_class: 'transient',
  message: 'HTTP 503',
  retryable: true,
  now: DUE,
  ...changes,
});

const stateOf = (events: PublicationEvent[]) => {
  const state = fold(publicationDecider, events);
  if (state.status === 'none') throw new Error('no publication');
  return state;
};
const platformState = (events: PublicationEvent[], platform: Platform) =>
  stateOf(events).platforms.find((p) => p.platform === platform)!;

/** facebook has failed `n` retryable times and waits for attempt n + 1. */
const failedTimes = (n: number, platform: Platform = 'facebook'): PublicationEvent[] =>
  Array.from({ length: n }, (_, i) => [started(platform, i + 1), failed(platform, i + 1, true)]).flat();

// ---- tests --------------------------------------------------------------------------------------------------------

describe('SchedulePublication', () => {
  it('schedules the content on every platform', () => {
    given(decider).when(schedule()).then([scheduled()]);
    const state = stateOf([scheduled()]);
    expect(state.status).toBe('scheduled');
    expect(state.platforms.map((p) => [p.platform, p.status, p.attempts])).toEqual([
      ['facebook', 'scheduled', 0],
      ['instagram', 'scheduled', 0],
    ]);
  });

  it('records null targeting and campaign, and the default priority, when none are given', () => {
    const r = publicationRequestSchema.parse({ content: { body: 'Ce soir : soirée jazz' }, platforms: ['twitter'], scheduled_time: AT });
    given(decider)
      .when(schedule(r))
      .then([
        scheduled({
          content: { title: '', body: 'Ce soir : soirée jazz', media_urls: [], hashtags: [] },
          platforms: ['twitter'],
          targeting: null,
          campaign_id: null,
          priority: 50,
        }),
      ]);
  });

  it('accepts all five platforms', () => {
    given(decider)
      .when(schedule(withRequest({ platforms: [...publicationPlatforms] })))
      .then([scheduled({ platforms: [...publicationPlatforms] })]);
  });

  it('refuses a publication that already exists', () => {
    given(decider, [scheduled()]).when(schedule()).thenThrows('publication_already_exists');
  });

  it('needs at least one platform', () => {
    given(decider).when(schedule(withRequest({ platforms: [] }))).thenThrows('publication_has_no_platforms', [{ path: 'platforms' }]);
  });

  it('refuses a platform listed twice', () => {
    given(decider)
      .when(schedule(withRequest({ platforms: ['facebook', 'instagram', 'facebook'] })))
      .thenThrows('duplicate_platforms', [{ path: 'platforms.2', message: 'facebook is listed twice' }]);
  });

  it.each([
    ['an empty body', ''],
    ['a blank body', '  \n '],
  ])('needs a body or a medium: refuses %s without media', (_label, body) => {
    given(decider)
      .when(schedule(withContent({ body, media_urls: [] })))
      .thenThrows('publication_content_empty', [{ path: 'content.body' }]);
  });

  it('accepts media without a body', () => {
    const r = withContent({ body: '' });
    given(decider).when(schedule(r)).then([scheduled({ content: r.content })]);
  });

  it('refuses a scheduled_time in the past', () => {
    given(decider)
      .when(schedule(request, plus(DUE, 61)))
      .thenThrows('scheduled_time_in_past', [{ path: 'scheduled_time' }]);
  });

  it('accepts a scheduled_time up to a minute in the past ("publish now")', () => {
    given(decider)
      .when(schedule(request, plus(DUE, 60)))
      .then([scheduled({ requested_at: plus(DUE, 60) })]);
  });

  it.each(['demain soir', '2025-04-20T20:30:00+02:00'])('needs an ISO UTC scheduled_time, not %s', (scheduled_time) => {
    given(decider)
      .when(schedule(withRequest({ scheduled_time })))
      .thenThrows('invalid_scheduled_time', [{ path: 'scheduled_time' }]);
  });

  it('refuses an age range whose min is above its max', () => {
    given(decider)
      .when(schedule(withRequest({ targeting: { location: 'Vensac', radius: 20, age_range: [65, 18] } })))
      .thenThrows('invalid_targeting', [{ path: 'targeting.age_range' }]);
  });

  it('refuses a radius without a location', () => {
    given(decider)
      .when(schedule(withRequest({ targeting: { radius: 20 } })))
      .thenThrows('invalid_targeting', [{ path: 'targeting.radius' }]);
  });
});

describe('a publication that does not exist', () => {
  it.each<PublicationCommand>([
    reschedule(plus(DUE, 3_600)),
    cancel(),
    start('facebook'),
    recordPublished('facebook'),
    recordFailed('facebook', 1),
  ])('cannot take $type', (command) => {
    given(decider).when(command).thenThrows('publication_not_found');
  });
});

describe('ReschedulePublication', () => {
  const later = '2025-04-21T12:00:00Z';

  it('moves the publication to a new time, with the reason', () => {
    const rescheduled = given(decider, [scheduled()])
      .when(reschedule(later))
      .then([
        {
          type: 'PublicationRescheduled',
          data: {
            publication_id,
            previous_time: AT,
            scheduled_time: later,
            reason: 'conflit avec une publication prioritaire',
            rescheduled_at: NOW,
          },
        },
      ]);
    expect(stateOf([scheduled(), ...rescheduled]).scheduled_time).toBe(later);
    given(decider, [scheduled(), ...rescheduled])
      .when(start('facebook'))
      .thenThrows('publication_not_due', [{ path: 'scheduled_time' }]);
  });

  it('records nothing when the time does not change (same instant, other spelling)', () => {
    given(decider, [scheduled()]).when(reschedule(DUE)).then([]);
  });

  it('needs a reason', () => {
    given(decider, [scheduled()]).when(reschedule(later, '  ')).thenThrows('reschedule_reason_required', [{ path: 'reason' }]);
  });

  it('refuses a time in the past', () => {
    given(decider, [scheduled()]).when(reschedule('2025-04-19T12:00:00Z')).thenThrows('scheduled_time_in_past');
  });

  it('refuses a time that is not ISO UTC', () => {
    given(decider, [scheduled()]).when(reschedule('2025-04-21 12:00')).thenThrows('invalid_scheduled_time');
  });

  it('is refused once a platform has started', () => {
    given(decider, [scheduled(), started('facebook')])
      .when(reschedule(later))
      .thenThrows('publication_already_started', [{ path: 'platforms.facebook.status' }]);
  });

  it('is refused once a platform has been attempted, even if it waits for a retry', () => {
    const events = [scheduled(), ...failedTimes(1)];
    expect(platformState(events, 'facebook').status).toBe('scheduled');
    given(decider, events).when(reschedule(later)).thenThrows('publication_already_started');
  });

  it('is refused for a canceled publication', () => {
    given(decider, [scheduled(), canceled(['facebook', 'instagram'])])
      .when(reschedule(later))
      .thenThrows('invalid_transition', [{ path: 'status' }]);
  });
});

describe('CancelPublication', () => {
  it('cancels every platform still waiting', () => {
    const events = given(decider, [scheduled()])
      .when(cancel('rupture de stock'))
      .then([canceled(['facebook', 'instagram'], 'rupture de stock')]);
    const state = stateOf([scheduled(), ...events]);
    expect(state.status).toBe('canceled');
    expect(state.platforms.map((p) => p.status)).toEqual(['canceled', 'canceled']);
  });

  it('records an empty reason when none is given', () => {
    given(decider, [scheduled()]).when(cancel()).then([canceled(['facebook', 'instagram'])]);
  });

  it('cancels only the platforms not yet published', () => {
    const history = [scheduled(), started('facebook'), published('facebook')];
    given(decider, history).when(cancel()).then([canceled(['instagram'])]);
    expect(stateOf([...history, canceled(['instagram'])]).status).toBe('partially_published');
  });

  it('cancels a platform waiting for a retry', () => {
    const history = [scheduled({ platforms: ['facebook'] }), ...failedTimes(2)];
    given(decider, history).when(cancel()).then([canceled(['facebook'])]);
    expect(stateOf([...history, canceled(['facebook'])]).status).toBe('canceled');
  });

  it('lets a platform already publishing finish: its post is still recorded', () => {
    const history = [scheduled(), started('facebook'), canceled(['instagram'])];
    expect(stateOf(history).status).toBe('publishing');
    given(decider, history).when(recordPublished('facebook')).then([published('facebook')]);
    expect(stateOf([...history, published('facebook')]).status).toBe('partially_published');
  });

  it('does not retry a platform that fails after the publication was canceled', () => {
    const history = [scheduled(), started('facebook'), canceled(['instagram'])];
    given(decider, history)
      .when(recordFailed('facebook', 1))
      .then([failed('facebook', 1, false, { retryable: true })]);
    expect(stateOf([...history, failed('facebook', 1, false)]).status).toBe('canceled');
  });

  it('is refused when every platform is done', () => {
    given(decider, [scheduled(), started('facebook'), published('facebook'), started('instagram'), failed('instagram', 1, false)])
      .when(cancel())
      .thenThrows('publication_not_cancelable', [
        { path: 'platforms.facebook.status', message: 'is published' },
        { path: 'platforms.instagram.status', message: 'is failed' },
      ]);
  });

  it('is refused when nothing waits any more (publishing only)', () => {
    given(decider, [scheduled({ platforms: ['facebook'] }), started('facebook')])
      .when(cancel())
      .thenThrows('publication_not_cancelable', [{ path: 'platforms.facebook.status', message: 'is publishing' }]);
  });

  it('is refused when already canceled', () => {
    given(decider, [scheduled(), canceled(['facebook', 'instagram'])]).when(cancel()).thenThrows('publication_not_cancelable');
  });
});

describe('StartPlatformPublishing', () => {
  it('starts a due platform and records the attempt', () => {
    given(decider, [scheduled()]).when(start('facebook')).then([started('facebook')]);
    const events = [scheduled(), started('facebook')];
    expect(platformState(events, 'facebook')).toMatchObject({
      status: 'publishing',
      attempts: 1,
      attempt_id: attemptId('facebook'),
      started_at: DUE,
    });
    expect(platformState(events, 'instagram').status).toBe('scheduled');
    expect(stateOf(events).status).toBe('publishing');
  });

  it("records the attempt's deadline when the worker gives one, and keeps it in the state", () => {
    const publish_by = plus(DUE, 360);
    const event: PublicationEvent = { type: 'PlatformPublishingStarted', data: { publication_id, platform: 'facebook', attempt_id: attemptId('facebook'), attempt: 1, started_at: DUE, publish_by } };
    const command: PublicationCommand = { type: 'StartPlatformPublishing', publication_id, platform: 'facebook', attempt_id: attemptId('facebook'), publish_by, now: DUE };
    given(decider, [scheduled()]).when(command).then([event]);
    expect(platformState([scheduled(), event], 'facebook').publish_by).toBe(publish_by);
    expect(platformState([scheduled(), started('facebook')], 'facebook').publish_by).toBeNull();
  });

  it('records nothing when the same attempt is started again (redelivered message)', () => {
    given(decider, [scheduled(), started('facebook')]).when(start('facebook')).then([]);
  });

  it('refuses a second attempt while one is publishing (two workers)', () => {
    given(decider, [scheduled(), started('facebook')])
      .when(start('facebook', 2))
      .thenThrows('invalid_transition', [{ path: 'platforms.facebook.status' }]);
  });

  it('refuses to start before scheduled_time', () => {
    given(decider, [scheduled()])
      .when(start('facebook', 1, plus(DUE, -1)))
      .thenThrows('publication_not_due', [{ path: 'scheduled_time' }]);
  });

  it('refuses a platform the publication is not for', () => {
    given(decider, [scheduled()]).when(start('linkedin')).thenThrows('platform_not_targeted', [{ path: 'platform' }]);
  });

  it.each<[string, PublicationEvent[]]>([
    ['published', [started('facebook'), published('facebook')]],
    ['failed', [started('facebook'), failed('facebook', 1, false)]],
    ['canceled', [canceled(['facebook', 'instagram'])]],
  ])('cannot start a %s platform', (_status, events) => {
    given(decider, [scheduled(), ...events]).when(start('facebook', 2)).thenThrows('invalid_transition');
  });

  it('starts a retry once next_attempt_at has come, as the next attempt', () => {
    const history = [scheduled(), ...failedTimes(1)];
    given(decider, history)
      .when(start('facebook', 2, plus(DUE, 59)))
      .thenThrows('publication_not_due', [{ path: 'platforms.facebook.next_attempt_at' }]);
    given(decider, history)
      .when(start('facebook', 2, plus(DUE, 60)))
      .then([started('facebook', 2, plus(DUE, 60))]);
    expect(platformState([...history, started('facebook', 2)], 'facebook')).toMatchObject({
      attempts: 2,
      next_attempt_at: null,
    });
  });

  it('refuses to reuse an attempt id', () => {
    given(decider, [scheduled(), ...failedTimes(1)])
      .when(start('facebook', 1, plus(DUE, 3_600)))
      .thenThrows('attempt_id_reused', [{ path: 'attempt_id' }]);
  });
});

describe('RecordPlatformPublished', () => {
  it('records the post id and url; the publication is published when every platform is', () => {
    const history = [scheduled(), started('facebook'), published('facebook'), started('instagram')];
    expect(stateOf(history).status).toBe('publishing');
    given(decider, history).when(recordPublished('instagram')).then([published('instagram')]);
    expect(platformState([...history, published('instagram')], 'instagram')).toMatchObject({
      status: 'published',
      post_id: 'instagram_12345',
      post_url: 'https://instagram.example.com/posts/12345',
    });
    expect(stateOf([...history, published('instagram')]).status).toBe('published');
  });

  it('records a null url when the platform gives none', () => {
    const command = { ...recordPublished('facebook'), post_url: undefined };
    const event = published('facebook');
    given(decider, [scheduled(), started('facebook')])
      .when(command)
      .then([{ ...event, data: { ...event.data, post_url: null } } as PublicationEvent]);
  });

  it('records nothing when the same post is reported again', () => {
    given(decider, [scheduled(), started('facebook'), published('facebook')]).when(recordPublished('facebook')).then([]);
  });

  it('refuses another post for a platform already published', () => {
    given(decider, [scheduled(), started('facebook'), published('facebook')])
      .when(recordPublished('facebook', 1, 'fb_99999'))
      .thenThrows('platform_already_published', [{ path: 'platforms.facebook.post_id' }]);
  });

  it('refuses a result for a platform that is not publishing', () => {
    given(decider, [scheduled()]).when(recordPublished('facebook')).thenThrows('invalid_transition');
  });

  it('refuses a result of an attempt that is not the current one', () => {
    given(decider, [scheduled(), ...failedTimes(1), started('facebook', 2)])
      .when(recordPublished('facebook', 1))
      .thenThrows('stale_attempt', [{ path: 'attempt_id', message: `the current attempt is ${attemptId('facebook', 2)}` }]);
  });

  it('refuses a platform the publication is not for', () => {
    given(decider, [scheduled()]).when(recordPublished('linkedin')).thenThrows('platform_not_targeted');
  });
});

describe('RecordPlatformFailed', () => {
  it('sends a retryable failure back to scheduled, for a retry after 1 minute', () => {
    const history = [scheduled(), started('facebook')];
    given(decider, history).when(recordFailed('facebook', 1)).then([failed('facebook', 1, true)]);
    const events = [...history, failed('facebook', 1, true)];
    expect(platformState(events, 'facebook')).toMatchObject({
      status: 'scheduled',
      attempts: 1,
      next_attempt_at: plus(DUE, 60),
      last_error: { attempt_id: attemptId('facebook'), error_class: 'transient', message: 'HTTP 503' },
    });
    expect(stateOf(events).status).toBe('publishing');
  });

  it('doubles the delay at each attempt', () => {
    given(decider, [scheduled(), ...failedTimes(2), started('facebook', 3)])
      .when(recordFailed('facebook', 3))
      .then([failed('facebook', 3, true, { next_attempt_at: plus(DUE, 240) })]);
  });

  it("doubles the worker's configured backoff when the command gives one", () => {
    given(decider, [scheduled(), ...failedTimes(2), started('facebook', 3)])
      .when(recordFailed('facebook', 3, { retry_backoff_ms: 2_000 }))
      .then([failed('facebook', 3, true, { next_attempt_at: plus(DUE, 8) })]);
  });

  it("still waits the platform's Retry-After when it is longer than the configured backoff", () => {
    given(decider, [scheduled(), started('facebook')])
      .when(recordFailed('facebook', 1, { error_class: 'rate_limited', retry_after_seconds: 30, retry_backoff_ms: 2_000 }))
      .then([failed('facebook', 1, true, { error_class: 'rate_limited', next_attempt_at: plus(DUE, 30) })]);
  });

  it('caps the delay at one hour', () => {
    const history = [scheduled({ max_attempts: 10 }), ...failedTimes(7), started('facebook', 8)];
    given(decider, history)
      .when(recordFailed('facebook', 8))
      .then([failed('facebook', 8, true, { next_attempt_at: plus(DUE, 3_600) })]);
  });

  it("waits at least the platform's Retry-After", () => {
    given(decider, [scheduled(), started('facebook')])
      .when(recordFailed('facebook', 1, { error_class: 'rate_limited', retry_after_seconds: 900 }))
      .then([failed('facebook', 1, true, { error_class: 'rate_limited', next_attempt_at: plus(DUE, 900) })]);
  });

  it('fails the platform for good once the attempts are used up', () => {
    const history = [scheduled(), ...failedTimes(MAX_PUBLISH_ATTEMPTS - 1), started('facebook', MAX_PUBLISH_ATTEMPTS)];
    given(decider, history)
      .when(recordFailed('facebook', MAX_PUBLISH_ATTEMPTS))
      .then([failed('facebook', MAX_PUBLISH_ATTEMPTS, false, { retryable: true })]);
    expect(platformState([...history, failed('facebook', MAX_PUBLISH_ATTEMPTS, false)], 'facebook').status).toBe('failed');
  });

  it('fails the platform for good when the error is not retryable', () => {
    given(decider, [scheduled(), started('facebook')])
      .when(recordFailed('facebook', 1, { retryable: false, error_class: 'auth' }))
      .then([failed('facebook', 1, false, { error_class: 'auth' })]);
  });

  it.each<PublishErrorClass>(['permanent', 'validation'])('never retries a %s error, even marked retryable', (error_class) => {
    given(decider, [scheduled(), started('facebook')])
      .when(recordFailed('facebook', 1, { error_class }))
      .then([failed('facebook', 1, false, { error_class, retryable: true })]);
  });

  it.each<PublishErrorClass>(['transient', 'auth', 'rate_limited'])('retries a retryable %s error', (error_class) => {
    given(decider, [scheduled(), started('facebook')])
      .when(recordFailed('facebook', 1, { error_class }))
      .then([failed('facebook', 1, true, { error_class })]);
  });

  it('makes the publication failed when every platform failed, partially published when some were published', () => {
    const facebookPublished = [started('facebook'), published('facebook')];
    const instagramFailed = [started('instagram'), failed('instagram', 1, false)];
    const facebookFailed = [started('facebook'), failed('facebook', 1, false)];
    expect(stateOf([scheduled(), ...facebookFailed, ...instagramFailed]).status).toBe('failed');
    expect(stateOf([scheduled(), ...facebookPublished, ...instagramFailed]).status).toBe('partially_published');
  });

  it('cuts a long message', () => {
    const events = given(decider, [scheduled(), started('facebook')])
      .when(recordFailed('facebook', 1, { message: 'x'.repeat(5_000) }))
      .then([failed('facebook', 1, true, { message: `${'x'.repeat(MAX_ERROR_MESSAGE_LENGTH - 1)}…` })]);
    expect((events[0]!.data as Data<'PlatformPublishFailed'>).message).toHaveLength(MAX_ERROR_MESSAGE_LENGTH);
  });

  it('records nothing when the same failure is reported again', () => {
    given(decider, [scheduled(), started('facebook'), failed('facebook', 1, true)]).when(recordFailed('facebook', 1)).then([]);
    given(decider, [scheduled(), started('facebook'), failed('facebook', 1, false)]).when(recordFailed('facebook', 1)).then([]);
  });

  it('refuses a failure of an attempt that is not the current one', () => {
    given(decider, [scheduled(), ...failedTimes(1), started('facebook', 2)])
      .when(recordFailed('facebook', 3))
      .thenThrows('stale_attempt');
  });

  it('refuses a failure for a platform that is not publishing', () => {
    given(decider, [scheduled()]).when(recordFailed('facebook', 1)).thenThrows('invalid_transition');
    given(decider, [scheduled(), started('facebook'), published('facebook')])
      .when(recordFailed('facebook', 1))
      .thenThrows('invalid_transition');
  });
});

describe('publication events', () => {
  it('every event the decider emits parses with its catalogue schema', () => {
    const journey = run(publicationDecider, [
      schedule(),
      reschedule('2025-04-20T19:00:00Z'),
      start('facebook', 1, '2025-04-20T19:00:00.000Z'),
      { ...recordFailed('facebook', 1), now: '2025-04-20T19:00:05.000Z' },
      start('facebook', 2, '2025-04-20T19:10:00.000Z'),
      recordPublished('facebook', 2),
      cancel('plus de stock'),
    ]);
    const all = [...journey, ...decider.emitted];
    expect(new Set(all.map((e) => e.type))).toEqual(new Set(Object.keys(publicationEvents)));
    expectConformToCatalogue(publicationEvents, all);
  });
});

describe('random command sequences', () => {
  const terminal = ['published', 'failed', 'canceled'];
  /** Weighted: mostly worker results, rarely a cancel (it ends the walk). */
  const kinds = [
    ...Array<'start'>(8).fill('start'),
    ...Array<'published'>(3).fill('published'),
    ...Array<'failed'>(6).fill('failed'),
    'schedule',
    'reschedule',
    'cancel',
  ] as const;

  it.each([1, 2, 3, 4])('keep the invariants (seed %i, 100 publications)', (seed) => {
    const random = randomGenerator(seed);
    let clock = Date.parse(NOW);
    const next = (state: PublicationState): PublicationCommand => {
      clock += random.int(20) * 60_000;
      const now = new Date(clock).toISOString();
      const platform = random.pick(['facebook', 'instagram', 'facebook', 'instagram', 'twitter'] as const);
      const attempts = state.status === 'none' ? 0 : (state.platforms.find((p) => p.platform === platform)?.attempts ?? 0);
      const attempt = attempts + random.pick([0, 1, 1, 1]);
      const attempt_id = attemptId(platform, Math.max(1, attempt));
      const kind = random.pick(kinds);
      switch (kind) {
        case 'schedule':
          return schedule(withRequest({ platforms: ['facebook', 'instagram'], scheduled_time: plus(now, 300).replace('.000', '') }), now);
        case 'reschedule':
          return { ...reschedule(plus(now, 600)), now };
        case 'cancel':
          return { ...cancel(), now };
        case 'start':
          return { type: 'StartPlatformPublishing', publication_id, platform, attempt_id, now };
        case 'published':
          return { ...recordPublished(platform), attempt_id, post_id: random.pick(['p1', 'p2']), now };
        case 'failed':
          return {
            ...recordFailed(platform, 1, { error_class: random.pick(publishErrorClasses), retryable: random.int(4) > 0 }),
            attempt_id,
            now,
          };
      }
    };
    const check = (before: PublicationState, after: PublicationState): void => {
      if (before.status === 'none' || after.status === 'none') return;
      // Once canceled, nothing waits any more: a platform in flight finishes, it is never retried.
      if (after.canceled_at !== null) expect(after.platforms.filter((p) => p.status === 'scheduled')).toEqual([]);
      for (const p of after.platforms) {
        const old = before.platforms.find((b) => b.platform === p.platform)!;
        if (terminal.includes(old.status)) expect(p.status).toBe(old.status);
        expect(p.attempts).toBeLessThanOrEqual(after.max_attempts);
        if (p.status === 'published') expect(p.post_id).not.toBeNull();
      }
    };
    const events = Array.from({ length: 100 }, () => randomWalk(publicationDecider, next, 60, check)).flat();
    expect(new Set(events.map((e) => e.type))).toEqual(new Set(Object.keys(publicationEvents)));
    expectConformToCatalogue(publicationEvents, events);
  });
});
