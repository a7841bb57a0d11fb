import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { AudienceFacts } from '../../src/domain/campaign-audience.js';
import { planChannel } from '../../src/domain/campaign-channels.js';
import { campaignExperimentDecider, type CampaignExperimentCommand, type ExperimentCampaignFacts } from '../../src/domain/campaign-experiment-decider.js';
import {
  chooseWinner,
  experimentBucket,
  planExperiment,
  variantOfBucket,
  type ExperimentPlan,
  type VariantCounts,
} from '../../src/domain/campaign-experiment.js';
import { campaignDecider, campaignFieldsSchema, type CampaignEvent, type CampaignFields } from '../../src/domain/campaign.js';
import { campaignExperimentEvents } from '../../src/domain/campaign-experiment-decider.js';
import { expectConformToCatalogue, given, recording } from './given-when-then.js';

const campaign_id = '3f1c2b8e-5d4a-4c9b-8f2e-1a2b3c4d5e6f';
const start = '2025-04-10T08:00:00.000Z';
const end = '2025-04-20T20:00:00.000Z';
const base = { template_id: 'promotional_email', data: { promo_title: 'Semaine de la pizza' } };

const experimentConfig = (changes: Record<string, unknown> = {}) => ({
  variants: [{}, { id: 'B', template_id: 'promo_b' }, { data: { promo_title: 'Pizza offerte' } }],
  test_share: 0.2,
  metric: 'open_rate',
  test_window_hours: 24,
  min_sample: 10,
  ...changes,
});

const planned = (config: unknown, channel: 'email' | 'sms' = 'email') => planExperiment(config, channel, 1, base);
const pathsOf = (result: ReturnType<typeof planned>) => ('problems' in result ? result.problems.map((p) => p.path) : []);

describe('planExperiment', () => {
  it('names the variants A, B, C… unless given, and merges their data over the channel\'s', () => {
    const result = planned(experimentConfig());
    expect(result).toEqual({
      experiment: {
        metric: 'open_rate',
        test_share: 0.2,
        test_window_hours: 24,
        min_sample: 10,
        variants: [
          { variant_id: 'A', template_id: 'promotional_email', data: { promo_title: 'Semaine de la pizza' } },
          { variant_id: 'B', template_id: 'promo_b', data: { promo_title: 'Semaine de la pizza' } },
          { variant_id: 'C', template_id: 'promotional_email', data: { promo_title: 'Pizza offerte' } },
        ],
      },
    });
    expect(planned({ ...experimentConfig(), min_sample: undefined })).toMatchObject({ experiment: { min_sample: 50 } });
  });

  it.each([
    ['fewer than 2 variants', { variants: [{}] }, 'channels.1.config.experiment.variants'],
    ['a test share of 0', { test_share: 0 }, 'channels.1.config.experiment.test_share'],
    ['a test share of 1', { test_share: 1 }, 'channels.1.config.experiment.test_share'],
    ['a test share above 1', { test_share: 1.5 }, 'channels.1.config.experiment.test_share'],
    ['an unknown metric', { metric: 'revenue' }, 'channels.1.config.experiment.metric'],
    ['no test window', { test_window_hours: 0 }, 'channels.1.config.experiment.test_window_hours'],
    ['an unknown field', { winner: 'A' }, 'channels.1.config.experiment'],
    ['a variant id with spaces', { variants: [{ id: 'A 1' }, { id: 'B', template_id: 'x' }] }, 'channels.1.config.experiment.variants.0.id'],
    ['two variants with one id', { variants: [{ id: 'X' }, { id: 'X', template_id: 'promo_b' }] }, 'channels.1.config.experiment.variants.1.id'],
    ['two variants sending the same message', { variants: [{}, { template_id: 'promotional_email' }] }, 'channels.1.config.experiment.variants.1'],
  ])('refuses %s, naming the field', (_case, changes, path) => {
    expect(pathsOf(planned(experimentConfig(changes)))).toContain(path);
  });

  it('refuses an open rate for SMS (no opens are reported), and takes clicks or conversions', () => {
    expect(pathsOf(planned(experimentConfig(), 'sms'))).toEqual(['channels.1.config.experiment.metric']);
    expect(planned(experimentConfig({ metric: 'click_rate' }), 'sms')).toHaveProperty('experiment');
    expect(planned(experimentConfig({ metric: 'conversion_rate' }), 'sms')).toHaveProperty('experiment');
  });

  it('is part of the e-mail and SMS channel plans', () => {
    const channel = { type: 'email' as const, content_template: 'promotional_email', config: { experiment: experimentConfig() }, schedule: {} };
    const result = planChannel(channel, 0, { start_date: start, end_date: end });
    expect(result).toMatchObject({ plan: { type: 'email', experiment: { metric: 'open_rate', variants: [{ variant_id: 'A' }, { variant_id: 'B' }, { variant_id: 'C' }] } } });
  });
});

describe('the audience split', () => {
  const experiment = (planned(experimentConfig()) as { experiment: ExperimentPlan }).experiment;

  it('places each customer the same way every time, the test share spread evenly over the variants', () => {
    const customers = Array.from({ length: 10_000 }, () => randomUUID());
    const placed = customers.map((c) => variantOfBucket(experiment, experimentBucket(campaign_id, 1, c))?.variant_id ?? 'rest');
    expect(customers.map((c) => variantOfBucket(experiment, experimentBucket(campaign_id, 1, c))?.variant_id ?? 'rest')).toEqual(placed);
    const tally = (id: string) => placed.filter((p) => p === id).length;
    expect(tally('rest') / 10_000).toBeCloseTo(0.8, 1);
    for (const id of ['A', 'B', 'C']) expect(tally(id) / 10_000).toBeCloseTo(0.2 / 3, 1);
  });

  it('places a customer differently in another campaign or channel', () => {
    const customers = Array.from({ length: 200 }, () => randomUUID());
    const buckets = (campaign: string, channel: number) => customers.map((c) => experimentBucket(campaign, channel, c));
    expect(buckets(campaign_id, 1)).not.toEqual(buckets(randomUUID(), 1));
    expect(buckets(campaign_id, 1)).not.toEqual(buckets(campaign_id, 2));
    for (const bucket of buckets(campaign_id, 1)) expect(bucket >= 0 && bucket < 1).toBe(true);
  });
});

describe('chooseWinner', () => {
  const experiment = (planned(experimentConfig()) as { experiment: ExperimentPlan }).experiment;
  const counts = (variant_id: string, delivered: number, unique_opens: number, more: Partial<VariantCounts> = {}): VariantCounts => ({
    variant_id,
    requested: delivered,
    sent: delivered,
    delivered,
    failed: 0,
    unique_opens,
    unique_clicks: 0,
    conversions: 0,
    ...more,
  });

  it('takes the highest rate when every variant has its minimum sample, with the figures it rests on', () => {
    const decision = chooseWinner(experiment, [counts('A', 40, 10), counts('B', 40, 16), counts('C', 41, 12)]);
    expect(decision).toMatchObject({ winner_variant_id: 'B', reason: 'highest_rate', rate_base: 'delivered' });
    expect(decision.variants.map((v) => [v.variant_id, v.template_id, v.sample, v.rate])).toEqual([
      ['A', 'promotional_email', 40, 0.25],
      ['B', 'promo_b', 40, 0.4],
      ['C', 'promotional_email', 41, 0.2927],
    ]);
  });

  it('gives a tie to the first of the tied variants in the declared order, comparing exact fractions', () => {
    expect(chooseWinner(experiment, [counts('A', 30, 3), counts('B', 20, 6), counts('C', 30, 9)])).toMatchObject({ winner_variant_id: 'B', reason: 'tie' });
  });

  it('keeps the first variant when a sample is below min_sample, or when there is nothing to compare', () => {
    expect(chooseWinner(experiment, [counts('A', 40, 1), counts('B', 9, 9), counts('C', 40, 2)])).toMatchObject({ winner_variant_id: 'A', reason: 'insufficient_sample' });
    expect(chooseWinner(experiment, [])).toMatchObject({ winner_variant_id: 'A', reason: 'no_data', variants: [{ requested: 0, rate: null }, { rate: null }, { rate: null }] });
  });

  it('rates over sent messages when no variant has a delivery reported (SMTP)', () => {
    const decision = chooseWinner(experiment, [counts('A', 0, 5, { sent: 20 }), counts('B', 0, 2, { sent: 20 }), counts('C', 0, 1, { sent: 20 })]);
    expect(decision).toMatchObject({ winner_variant_id: 'A', reason: 'highest_rate', rate_base: 'sent', variants: [{ sample: 20, rate: 0.25 }, {}, {}] });
  });
});

describe('LaunchCampaign with an experiment', () => {
  const decider = recording(campaignDecider);
  const audience: AudienceFacts = { segmentKnown: true, size: 1_000, perChannel: { email: 900, sms: 400 } };
  const fields = (channels: unknown[]): CampaignFields =>
    campaignFieldsSchema.parse({ name: 'Test A/B', start_date: start, end_date: end, target_audience: { segment: 'fideles' }, channels });
  const created = (channels: unknown[]): CampaignEvent => ({ type: 'CampaignCreated', data: { campaign_id, ...fields(channels) } });
  const launch = { type: 'LaunchCampaign' as const, campaign_id, audience, now: '2025-04-01T00:00:00.000Z' };
  const email = (experiment: unknown) => ({ type: 'email', content_template: 'promotional_email', config: { experiment } });

  it('launches a campaign whose experiments can work', () => {
    given(decider, [created([email(experimentConfig()), { type: 'sms', content_template: 'promo_sms', config: { experiment: experimentConfig({ metric: 'click_rate', variants: [{ id: 'S1' }, { id: 'S2', data: { x: 1 } }] }) } }])])
      .when(launch)
      .then([{ type: 'CampaignScheduled', data: { campaign_id, start_date: start, end_date: end } }]);
  });

  it('refuses a bad experiment with invalid_experiment and the field', () => {
    given(decider, [created([email(experimentConfig({ test_share: 1 }))])]).when(launch).thenThrows('invalid_experiment', [{ path: 'channels.0.config.experiment.test_share' }]);
    given(decider, [created([email(experimentConfig({ variants: [{}] }))])]).when(launch).thenThrows('invalid_experiment', [{ path: 'channels.0.config.experiment.variants' }]);
  });

  it('refuses a test window that would not end before the campaign, and a variant id used by two channels', () => {
    given(decider, [created([email(experimentConfig({ test_window_hours: 24 * 11 }))])])
      .when(launch)
      .thenThrows('invalid_experiment', [{ path: 'channels.0.config.experiment.test_window_hours' }]);
    given(decider, [created([email(experimentConfig()), email(experimentConfig())])])
      .when(launch)
      .thenThrows('invalid_experiment', [{ path: 'channels.1.config.experiment.variants.0.id' }, { path: 'channels.1.config.experiment.variants.1.id' }, { path: 'channels.1.config.experiment.variants.2.id' }]);
  });
});

describe('ChooseVariantWinner', () => {
  const decider = recording(campaignExperimentDecider);
  const campaign = (changes: Partial<ExperimentCampaignFacts> = {}): ExperimentCampaignFacts => ({
    status: 'active',
    activated_at: start,
    start_date: start,
    end_date: end,
    channels: [{ type: 'web', content_template: 'x', config: { title: 'x' }, schedule: {} }, { type: 'email', content_template: 'promotional_email', config: { experiment: experimentConfig() }, schedule: {} }],
    ...changes,
  });
  const choose = (now: string, changes: Partial<CampaignExperimentCommand> = {}): CampaignExperimentCommand => ({
    type: 'ChooseVariantWinner',
    campaign_id,
    campaign: campaign(),
    channel_index: 1,
    counts: [
      { variant_id: 'A', requested: 20, sent: 20, delivered: 20, failed: 0, unique_opens: 2, unique_clicks: 0, conversions: 0 },
      { variant_id: 'B', requested: 20, sent: 20, delivered: 19, failed: 1, unique_opens: 9, unique_clicks: 1, conversions: 0 },
      { variant_id: 'C', requested: 20, sent: 20, delivered: 20, failed: 0, unique_opens: 4, unique_clicks: 0, conversions: 1 },
    ],
    now,
    ...changes,
  });
  const afterWindow = '2025-04-11T08:00:00.000Z';

  it('records the winner once the test window is over, with every variant\'s figures, and only once', () => {
    const [event] = campaignExperimentDecider.decide(choose(afterWindow), campaignExperimentDecider.initialState());
    expect(event).toEqual({
      type: 'CampaignVariantWinnerChosen',
      data: expect.objectContaining({
        campaign_id,
        channel_index: 1,
        channel: 'email',
        metric: 'open_rate',
        winner_variant_id: 'B',
        reason: 'highest_rate',
        rate_base: 'delivered',
        min_sample: 10,
        test_share: 0.2,
        test_started_at: start,
        decided_at: afterWindow,
      }),
    });
    expect(event!.data.variants.map((v) => v.rate)).toEqual([0.1, 0.4737, 0.2]);
    given(decider, [event!]).when(choose(afterWindow)).then([]);
    expectConformToCatalogue(campaignExperimentEvents, [event!]);
  });

  it('refuses before the window is over, unless the campaign is ending', () => {
    given(decider, []).when(choose('2025-04-11T07:59:59.000Z')).thenThrows('experiment_window_open', [{ path: 'channels.1.config.experiment.test_window_hours' }]);
    const ending = choose('2025-04-10T12:00:00.000Z', { campaign: campaign({ end_date: '2025-04-10T12:00:00.000Z' }) });
    expect(campaignExperimentDecider.decide(ending, campaignExperimentDecider.initialState())).toHaveLength(1);
  });

  it('refuses a campaign that is not active, and a channel without an experiment', () => {
    given(decider, []).when(choose(afterWindow, { campaign: campaign({ status: 'canceled' }) })).thenThrows('invalid_transition', [{ path: 'status' }]);
    given(decider, []).when(choose(afterWindow, { campaign: campaign({ activated_at: null, status: 'scheduled' }) })).thenThrows('invalid_transition');
    given(decider, []).when(choose(afterWindow, { channel_index: 0 })).thenThrows('experiment_not_found');
    given(decider, []).when(choose(afterWindow, { channel_index: 7 })).thenThrows('experiment_not_found');
  });
});
