import { describe, expect, it } from 'vitest';
import {
  engagementDecider,
  engagementEvents,
  engagementStreamId,
  interactionKinds,
  interactionVerbs,
  type EngagementCommand,
  type EngagementEvent,
  type InteractionKind,
  type InteractionVerb,
  type Metrics,
} from '../../src/domain/engagement.js';
import type { Platform } from '../../src/domain/publication-events.js';
import { expectConformToCatalogue, given, randomGenerator, randomWalk, run } from './given-when-then.js';

const publication_id = '6f1c2b8e-5d4a-4c9b-8f2e-1a2b3c4d5e6f';
const POST_ID = '104857600_9000001';
const NOW = '2026-12-01T10:00:00.000Z';
const LATER = '2026-12-01T10:15:00.000Z';

const metrics = (changes: Partial<Metrics> = {}): Metrics => ({
  likes: 12,
  shares: 2,
  comments: 3,
  reach: 480,
  clicks: 9,
  impressions: 610,
  ...changes,
});

const measure = (changes: Partial<Metrics> = {}, options: { platform?: Platform; post_id?: string; now?: string } = {}): EngagementCommand => ({
  type: 'RecordEngagementMeasured',
  publication_id,
  platform: options.platform ?? 'facebook',
  post_id: options.post_id ?? POST_ID,
  metrics: metrics(changes),
  source: 'insights',
  now: options.now ?? NOW,
});
const measured = (changes: Partial<Metrics> = {}, options: { platform?: Platform; post_id?: string; now?: string } = {}): EngagementEvent => ({
  type: 'EngagementMeasured',
  data: {
    publication_id,
    platform: options.platform ?? 'facebook',
    post_id: options.post_id ?? POST_ID,
    metrics: metrics(changes),
    source: 'insights',
    measured_at: options.now ?? NOW,
  },
});

const interact = (interaction_id: string, kind: InteractionKind = 'comment', verb: InteractionVerb = 'add', platform: Platform = 'facebook'): EngagementCommand => ({
  type: 'RecordEngagementInteraction',
  publication_id,
  platform,
  post_id: POST_ID,
  interaction_id,
  kind,
  verb,
  now: LATER,
});
const interacted = (interaction_id: string, kind: InteractionKind = 'comment', verb: InteractionVerb = 'add', platform: Platform = 'facebook'): EngagementEvent => ({
  type: 'EngagementInteractionReceived',
  data: { publication_id, platform, post_id: POST_ID, interaction_id, kind, verb, received_at: LATER },
});

describe('engagement stream', () => {
  it('is named after the publication, in the engagement category', () => {
    expect(engagementStreamId(publication_id)).toBe(`engagement-${publication_id}`);
  });
});

describe('RecordEngagementMeasured', () => {
  it('records the first counters of a platform', () => {
    given(engagementDecider).when(measure()).then([measured()]);
  });

  it('records nothing when the counters did not change', () => {
    given(engagementDecider, [measured()]).when(measure({}, { now: LATER })).then([]);
  });

  it('records counters that changed, even by one', () => {
    given(engagementDecider, [measured()]).when(measure({ likes: 13 }, { now: LATER })).then([measured({ likes: 13 }, { now: LATER })]);
  });

  it('tells a counter that became unknown from one that is zero', () => {
    given(engagementDecider, [measured({ clicks: 0 })]).when(measure({ clicks: null })).then([measured({ clicks: null })]);
  });

  it('compares with the last counters of the same platform only', () => {
    given(engagementDecider, [measured()]).when(measure({}, { platform: 'instagram', post_id: '17900000' })).then([
      measured({}, { platform: 'instagram', post_id: '17900000' }),
    ]);
  });

  it('keeps only the six counters', () => {
    const command = measure();
    const withExtra = { ...command, metrics: { ...metrics(), saves: 4 } as Metrics };
    given(engagementDecider).when(withExtra).then([measured()]);
  });

  it('refuses counters that are not counts, naming each one', () => {
    given(engagementDecider)
      .when(measure({ likes: -1, reach: Number.NaN }))
      .thenThrows('invalid_metrics', [{ path: 'metrics.likes' }, { path: 'metrics.reach' }]);
  });

  it('refuses an empty or oversized post id', () => {
    given(engagementDecider).when(measure({}, { post_id: '' })).thenThrows('invalid_platform_id', [{ path: 'post_id' }]);
    given(engagementDecider).when(measure({}, { post_id: 'x'.repeat(201) })).thenThrows('invalid_platform_id', [{ path: 'post_id' }]);
  });
});

describe('RecordEngagementInteraction', () => {
  it('records a new interaction', () => {
    given(engagementDecider).when(interact('9000001_555')).then([interacted('9000001_555')]);
  });

  it('records nothing for the same interaction and verb again (a redelivered webhook)', () => {
    given(engagementDecider, [interacted('9000001_555')]).when(interact('9000001_555')).then([]);
  });

  it('records another verb of the same interaction', () => {
    given(engagementDecider, [interacted('9000001_555')])
      .when(interact('9000001_555', 'comment', 'remove'))
      .then([interacted('9000001_555', 'comment', 'remove')]);
  });

  it('keeps the interactions of each platform apart', () => {
    given(engagementDecider, [interacted('42')]).when(interact('42', 'comment', 'add', 'instagram')).then([interacted('42', 'comment', 'add', 'instagram')]);
  });

  it('does not let a measurement hide an interaction, nor the reverse', () => {
    const events = run(engagementDecider, [measure(), interact('r1', 'reaction'), measure(), interact('r1', 'reaction'), measure({ likes: 13 })]);
    expect(events.map((e) => e.type)).toEqual(['EngagementMeasured', 'EngagementInteractionReceived', 'EngagementMeasured']);
  });

  it('refuses an empty interaction id', () => {
    given(engagementDecider).when(interact('')).thenThrows('invalid_platform_id', [{ path: 'interaction_id' }]);
  });
});

describe('engagement invariants', () => {
  it.each([1, 2, 3])('never records the same interaction twice nor equal consecutive counters (seed %i)', (seed) => {
    const random = randomGenerator(seed);
    const platforms: Platform[] = ['facebook', 'instagram'];
    const next = (): EngagementCommand =>
      random.int(2) === 0
        ? measure({ likes: random.int(3), comments: random.pick([null, 1]) }, { platform: random.pick(platforms) })
        : interact(`i${random.int(5)}`, random.pick(interactionKinds), random.pick(interactionVerbs), random.pick(platforms));
    const all: EngagementEvent[] = [];
    for (let walk = 0; walk < 30; walk++) {
      const events = randomWalk(engagementDecider, next, 40);
      all.push(...events);
      const keys = events.flatMap((e) => (e.type === 'EngagementInteractionReceived' ? [JSON.stringify([e.data.platform, e.data.interaction_id, e.data.verb])] : []));
      expect(new Set(keys).size).toBe(keys.length);
      for (const platform of platforms) {
        const series = events.flatMap((e) => (e.type === 'EngagementMeasured' && e.data.platform === platform ? [JSON.stringify(e.data.metrics)] : []));
        series.slice(1).forEach((value, index) => expect(value).not.toBe(series[index]));
      }
    }
    expect(new Set(all.map((e) => e.type))).toEqual(new Set(Object.keys(engagementEvents)));
    expectConformToCatalogue(engagementEvents, all);
  });
});
