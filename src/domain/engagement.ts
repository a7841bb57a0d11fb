import type { Decider } from './decider.js';
import { DomainError, type DomainErrorDetail } from './domain-error.js';
import {
  MAX_PLATFORM_ID_LENGTH,
  metricNames,
  type EngagementEvent,
  type EngagementSource,
  type InteractionKind,
  type InteractionVerb,
  type Metrics,
} from './engagement-events.js';
import type { Platform } from './publication-events.js';

export * from './engagement-events.js';

/**
 * Engagement: how people react to one publication's posts, one stream per publication (all its platforms), next to
 * the publication's own stream so that a busy post never contends with publishing.
 *
 * Two sources feed it: counters (insights polled from the platform, or pushed) and single interactions pushed by a
 * platform webhook. Counters are recorded only when they changed since the last ones recorded for that platform, so
 * polling an idle post every few minutes adds nothing. An interaction is recorded once per interaction id and verb: a
 * webhook delivered twice (platforms retry until they get a 200) changes nothing.
 */

// ---- commands -----------------------------------------------------------------------------------------------------

/** `now` is given by the caller: deciders read no clock. */
export type EngagementCommand =
  | {
      type: 'RecordEngagementMeasured';
      publication_id: string;
      platform: Platform;
      post_id: string;
      metrics: Metrics;
      source: EngagementSource;
      now: string;
    }
  | {
      type: 'RecordEngagementInteraction';
      publication_id: string;
      platform: Platform;
      post_id: string;
      interaction_id: string;
      kind: InteractionKind;
      verb: InteractionVerb;
      now: string;
    };

// ---- state --------------------------------------------------------------------------------------------------------

export interface LastMeasurement {
  post_id: string;
  metrics: Metrics;
  measured_at: string;
}

export interface EngagementState {
  /** The last counters recorded, per platform. */
  measured: Partial<Record<Platform, LastMeasurement>>;
  /** Every interaction recorded, as interactionKey(). */
  interactions: ReadonlySet<string>;
}

export function engagementStreamId(publicationId: string): string {
  return `engagement-${publicationId}`;
}

export const engagementDecider: Decider<EngagementCommand, EngagementEvent, EngagementState> = {
  initialState: () => ({ measured: {}, interactions: new Set() }),
  decide,
  evolve,
};

function decide(command: EngagementCommand, state: EngagementState): EngagementEvent[] {
  const { publication_id, platform, now } = command;
  const post_id = checkedId(command.post_id, 'post_id');
  switch (command.type) {
    case 'RecordEngagementMeasured': {
      const metrics = checkedMetrics(command.metrics);
      const last = state.measured[platform];
      if (last && last.post_id === post_id && sameMetrics(last.metrics, metrics)) return [];
      return [{ type: 'EngagementMeasured', data: { publication_id, platform, post_id, metrics, source: command.source, measured_at: now } }];
    }
    case 'RecordEngagementInteraction': {
      const interaction_id = checkedId(command.interaction_id, 'interaction_id');
      if (state.interactions.has(interactionKey(platform, interaction_id, command.verb))) return [];
      return [
        {
          type: 'EngagementInteractionReceived',
          data: { publication_id, platform, post_id, interaction_id, kind: command.kind, verb: command.verb, received_at: now },
        },
      ];
    }
  }
}

function evolve(state: EngagementState, event: EngagementEvent): EngagementState {
  switch (event.type) {
    case 'EngagementMeasured': {
      const { platform, post_id, metrics, measured_at } = event.data;
      return { ...state, measured: { ...state.measured, [platform]: { post_id, metrics, measured_at } } };
    }
    case 'EngagementInteractionReceived': {
      const { platform, interaction_id, verb } = event.data;
      return { ...state, interactions: new Set(state.interactions).add(interactionKey(platform, interaction_id, verb)) };
    }
  }
}

function interactionKey(platform: Platform, interactionId: string, verb: InteractionVerb): string {
  // The free-form id comes last, after two fixed words: two different triples never give the same key.
  return `${platform} ${verb} ${interactionId}`;
}

function sameMetrics(a: Metrics, b: Metrics): boolean {
  return metricNames.every((name) => a[name] === b[name]);
}

/** Only the six counters, each a finite number ≥ 0 or null. */
function checkedMetrics(metrics: Metrics): Metrics {
  const details: DomainErrorDetail[] = [];
  const clean = {} as Metrics;
  for (const name of metricNames) {
    const value = metrics[name] ?? null;
    if (value !== null && (typeof value !== 'number' || !Number.isFinite(value) || value < 0)) {
      details.push({ path: `metrics.${name}`, message: 'must be a number ≥ 0, or null when the platform does not report it' });
    }
    clean[name] = value;
  }
  if (details.length > 0) throw new DomainError('invalid_metrics', 'The platform reported counters that are not counts', details);
  return clean;
}

function checkedId(value: string, path: string): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_PLATFORM_ID_LENGTH) {
    throw new DomainError('invalid_platform_id', `${path} must be 1 to ${MAX_PLATFORM_ID_LENGTH} characters`, [
      { path, message: `must be 1 to ${MAX_PLATFORM_ID_LENGTH} characters` },
    ]);
  }
  return value;
}
