import { describe, expect, it } from 'vitest';
import {
  campaignPerformanceDecider,
  campaignPerformanceEvents,
  type CampaignPerformanceEvent,
  type EvaluateCampaignPerformance,
} from '../../src/domain/campaign-performance.js';
import { assertSuccessMetrics, parseSuccessMetrics, type CampaignFigures } from '../../src/domain/success-metrics.js';
import type { DomainError } from '../../src/domain/domain-error.js';
import { expectConformToCatalogue, run } from './given-when-then.js';

const campaign_id = '3f2b8c1e-7d4a-4e2b-9a61-0c5d8e7f1a23';
const NOW = '2026-12-01T10:00:00.000Z';

const figures = (changes: Partial<CampaignFigures> = {}): CampaignFigures => ({
  sent: 0,
  delivered: 0,
  bounced: 0,
  unique_opens: 0,
  unique_clicks: 0,
  conversions: 0,
  revenue: 0,
  likes: 0,
  shares: 0,
  comments: 0,
  reach: 0,
  cost: 0,
  ...changes,
});

const evaluate = (successMetrics: unknown, f: Partial<CampaignFigures>, budget = 0): EvaluateCampaignPerformance => {
  const { problems, ...parsed } = parseSuccessMetrics(successMetrics);
  expect(problems).toEqual([]);
  return { type: 'EvaluateCampaignPerformance', campaign_id, success_metrics: parsed, figures: figures(f), budget, now: NOW };
};

const kinds = (events: CampaignPerformanceEvent[]) => events.map((e) => `${e.type}:${'metric' in e.data ? e.data.metric : e.data.threshold}`);

describe('success_metrics', () => {
  it('takes operators, bare numbers in the metric usual direction, and min_sample', () => {
    expect(parseSuccessMetrics({ open_rate: { '>=': 0.25 }, bounce_rate: 0.05, conversions: 40, min_sample: 100 })).toEqual({
      rules: [
        { metric: 'open_rate', operator: '>=', threshold: 0.25 },
        { metric: 'bounce_rate', operator: '<=', threshold: 0.05 },
        { metric: 'conversions', operator: '>=', threshold: 40 },
      ],
      min_sample: 100,
      problems: [],
    });
    expect(parseSuccessMetrics({})).toEqual({ rules: [], min_sample: 50, problems: [] });
  });

  it('names each malformed target', () => {
    const error = (() => {
      try {
        assertSuccessMetrics({ open_rate: 25, reservations: 40, click_rate: { '>=': 0.1, '<=': 0.5 }, bounce_rate: { '!=': 0.1 }, min_sample: 0, likes: -1 });
      } catch (e) {
        return e as DomainError;
      }
      throw new Error('accepted');
    })();
    expect(error.code).toBe('invalid_success_metrics');
    expect(error.details.map((d) => d.path).sort()).toEqual(
      ['success_metrics.bounce_rate', 'success_metrics.click_rate', 'success_metrics.likes', 'success_metrics.min_sample', 'success_metrics.open_rate', 'success_metrics.reservations'].sort(),
    );
    expect(() => assertSuccessMetrics({ open_rate: 0.25 })).not.toThrow();
  });
});

describe('campaign performance', () => {
  const targets = { open_rate: { '>=': 0.25 }, bounce_rate: { '<=': 0.05 } };

  it('judges no rate before min_sample messages', () => {
    // 1 open out of 2: no alert either way.
    expect(run(campaignPerformanceDecider, [evaluate(targets, { sent: 2, delivered: 2, unique_opens: 1, bounced: 1 })])).toEqual([]);
    expect(run(campaignPerformanceDecider, [evaluate({ ...targets, min_sample: 2 }, { sent: 2, delivered: 2, unique_opens: 1, bounced: 1 })]).map((e) => e.type)).toEqual([
      'CampaignThresholdReached',
      'CampaignUnderperforming',
    ]);
  });

  it('raises one alert per crossing, and again after crossing back', () => {
    const events = run(campaignPerformanceDecider, [
      evaluate(targets, { sent: 100, delivered: 100, unique_opens: 10, bounced: 1 }), // open rate missed; bounce within its limit: only news is the miss
      evaluate(targets, { sent: 120, delivered: 120, unique_opens: 12, bounced: 1 }), // still missed: nothing
      evaluate(targets, { sent: 200, delivered: 200, unique_opens: 60, bounced: 2 }), // reached
      evaluate(targets, { sent: 210, delivered: 210, unique_opens: 70, bounced: 2 }), // still reached: nothing
      evaluate(targets, { sent: 400, delivered: 380, unique_opens: 70, bounced: 24 }), // below again; bounces over 5 %
      evaluate(targets, { sent: 600, delivered: 580, unique_opens: 200, bounced: 24 }), // reached again; bounces back within
    ]);
    expect(kinds(events)).toEqual([
      'CampaignUnderperforming:open_rate',
      'CampaignThresholdReached:open_rate',
      'CampaignUnderperforming:open_rate',
      'CampaignUnderperforming:bounce_rate',
      'CampaignThresholdReached:open_rate',
      'CampaignThresholdReached:bounce_rate',
    ]);
    expect(events[0]!.data).toEqual({
      campaign_id,
      metric: 'open_rate',
      operator: '>=',
      threshold: 0.25,
      value: 0.1,
      sample_size: 100,
      min_sample: 50,
      evaluated_at: NOW,
    });
    expectConformToCatalogue(campaignPerformanceEvents, events);
  });

  it('announces a total when it reaches its goal, never while it is on its way', () => {
    const events = run(campaignPerformanceDecider, [evaluate({ conversions: 3 }, { conversions: 1 }), evaluate({ conversions: 3 }, { conversions: 3, revenue: 120 }), evaluate({ conversions: 3 }, { conversions: 5 })]);
    expect(kinds(events)).toEqual(['CampaignThresholdReached:conversions']);
    expect(events[0]!.data).toMatchObject({ value: 3, sample_size: null });
  });

  it('judges a changed target afresh', () => {
    const events = run(campaignPerformanceDecider, [
      evaluate({ open_rate: 0.25 }, { sent: 100, delivered: 100, unique_opens: 30 }),
      evaluate({ open_rate: 0.4 }, { sent: 100, delivered: 100, unique_opens: 30 }),
    ]);
    expect(kinds(events)).toEqual(['CampaignThresholdReached:open_rate', 'CampaignUnderperforming:open_rate']);
  });

  it('reports 80 % and 100 % of the budget once each, and a raised budget afresh', () => {
    const events = run(campaignPerformanceDecider, [
      evaluate({}, { cost: 70 }, 100),
      evaluate({}, { cost: 85 }, 100),
      evaluate({}, { cost: 90 }, 100),
      evaluate({}, { cost: 130 }, 100),
      evaluate({}, { cost: 130 }, 150),
      evaluate({}, { cost: 140 }, 0),
    ]);
    expect(events.map((e) => [e.type, e.data])).toEqual([
      ['CampaignBudgetConsumed', { campaign_id, threshold: 0.8, budget: 100, spent: 85, currency: 'EUR', consumed_rate: 0.85, evaluated_at: NOW }],
      ['CampaignBudgetConsumed', { campaign_id, threshold: 1, budget: 100, spent: 130, currency: 'EUR', consumed_rate: 1.3, evaluated_at: NOW }],
      ['CampaignBudgetConsumed', { campaign_id, threshold: 0.8, budget: 150, spent: 130, currency: 'EUR', consumed_rate: 0.866667, evaluated_at: NOW }],
    ]);
    expectConformToCatalogue(campaignPerformanceEvents, events);
  });
});
