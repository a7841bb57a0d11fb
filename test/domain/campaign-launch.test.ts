import { describe, expect, it } from 'vitest';
import type { AudienceFacts } from '../../src/domain/campaign-audience.js';
import { planChannels, plannedSpend } from '../../src/domain/campaign-channels.js';
import { campaignDecider, campaignEvents, campaignFieldsSchema, type CampaignCommand, type CampaignEvent, type CampaignFields } from '../../src/domain/campaign.js';
import { expectConformToCatalogue, given, recording } from './given-when-then.js';

const campaign_id = '3f1c2b8e-5d4a-4c9b-8f2e-1a2b3c4d5e6f';
const before = '2025-04-01T10:00:00.000Z';
const during = '2025-04-12T10:00:00.000Z';

const fields: CampaignFields = campaignFieldsSchema.parse({
  name: 'Printemps au Vieux Moulin',
  start_date: '2025-04-10T00:00:00Z',
  end_date: '2025-04-30T00:00:00Z',
  budget: 100,
  priority: 80,
  target_audience: { segment: 'fideles', filters: { language: 'fr' } },
  channels: [
    { type: 'email', content_template: 'promotional_email', config: { cost_per_message: 0.01 } },
    { type: 'sms', config: { template_id: 'promo_sms', cost_per_message: 0.05 } },
    { type: 'social_media', content_template: 'Le menu de printemps est là !', config: { platforms: ['facebook', 'instagram'], media_urls: ['https://cdn.levieuxmoulin.fr/printemps.jpg'], spend: 20 } },
    { type: 'web', content_template: 'Un dessert offert pour tout menu.', config: { title: 'Menu de printemps', link_url: 'https://levieuxmoulin.fr/reserver' } },
  ],
});

const audience = (changes: Partial<AudienceFacts> = {}): AudienceFacts => ({ segmentKnown: true, size: 1_000, perChannel: { email: 900, sms: 400 }, ...changes });

const decider = recording(campaignDecider);
const created = (overrides: Partial<CampaignFields> = {}): CampaignEvent => ({ type: 'CampaignCreated', data: { campaign_id, ...fields, ...overrides } });
const scheduled: CampaignEvent = { type: 'CampaignScheduled', data: { campaign_id, start_date: fields.start_date, end_date: fields.end_date } };
const activatedAt = (at: string): CampaignEvent => ({ type: 'CampaignActivated', data: { campaign_id, activated_at: at } });
const launch = (facts: AudienceFacts | null = audience(), now = during): CampaignCommand => ({ type: 'LaunchCampaign', campaign_id, audience: facts, now });

describe('LaunchCampaign', () => {
  it('schedules and activates a draft whose start date has come', () => {
    given(decider, [created()]).when(launch()).then([scheduled, activatedAt(during)]);
  });

  it('only schedules a campaign that starts later (the clock activates it then), and does nothing more if launched again', () => {
    given(decider, [created()]).when(launch(audience(), before)).then([scheduled]);
    given(decider, [created(), scheduled]).when(launch(audience(), before)).then([]);
    given(decider, [created(), scheduled]).when(launch()).then([activatedAt(during)]);
  });

  it.each([
    ['active', [created(), scheduled, activatedAt(during)]],
    ['canceled', [created(), { type: 'CampaignCanceled', data: { campaign_id, canceled_at: before, reason: '' } } as CampaignEvent]],
  ])('refuses a campaign that is %s', (_status, history) => {
    given(decider, history).when(launch()).thenThrows('invalid_transition', [{ path: 'status' }]);
  });

  it('refuses a campaign without channels, or whose end date has passed', () => {
    given(decider, [created({ channels: [] })]).when(launch()).thenThrows('campaign_has_no_channels', [{ path: 'channels' }]);
    given(decider, [created()]).when(launch(audience(), '2025-05-01T00:00:00Z')).thenThrows('campaign_ended', [{ path: 'end_date' }]);
  });

  it('refuses an end date before the start date', () => {
    given(decider, [created({ end_date: '2025-04-01T00:00:00Z' })]).when(launch(audience(), before)).thenThrows('invalid_date_range', [{ path: 'end_date' }]);
  });

  it('refuses e-mail or SMS channels without an audience, a malformed audience and an unknown segment', () => {
    given(decider, [created({ target_audience: {} })]).when(launch(null)).thenThrows('campaign_has_no_audience', [{ path: 'target_audience' }]);
    given(decider, [created({ target_audience: { segment: 'fideles', location: 'Vensac' } })])
      .when(launch(null))
      .thenThrows('invalid_target_audience', [{ path: 'target_audience' }]);
    given(decider, [created({ target_audience: { customers: ['not-a-uuid'] } })])
      .when(launch(null))
      .thenThrows('invalid_target_audience', [{ path: 'target_audience.customers.0' }]);
    given(decider, [created()]).when(launch(audience({ segmentKnown: false }))).thenThrows('unknown_segment', [{ path: 'target_audience.segment' }]);
  });

  it('refuses an audience with nobody to send a channel to', () => {
    given(decider, [created()])
      .when(launch(audience({ perChannel: { email: 900, sms: 0 } })))
      .thenThrows('audience_empty', [{ path: 'target_audience', message: 'no recipient for channels.1 (sms)' }]);
  });

  it('launches social and web channels without any audience', () => {
    const channels = fields.channels.filter((c) => c.type === 'social_media' || c.type === 'web');
    given(decider, [created({ channels, target_audience: {} })]).when(launch(null)).then([scheduled, activatedAt(during)]);
  });

  it('refuses a budget below the planned spend: channel spend plus cost per message × recipients', () => {
    // 20 (social) + 0.01 × 900 (email) + 0.05 × 400 (sms) = 49
    given(decider, [created({ budget: 48.99 })]).when(launch()).thenThrows('budget_below_spend', [{ path: 'budget' }]);
    given(decider, [created({ budget: 49 })]).when(launch()).then([scheduled, activatedAt(during)]);
  });

  it('refuses a channel that cannot work, naming its field', () => {
    const broken = [
      { type: 'email' as const, content_template: '', config: {}, schedule: {} },
      { type: 'social_media' as const, content_template: 'Bonjour', config: { platforms: [] }, schedule: {} },
      { type: 'social_media' as const, content_template: 'Bonjour', config: { platforms: ['facebook'] }, schedule: { at: '2025-06-01T00:00:00Z' } },
      { type: 'web' as const, content_template: 'Offre', config: { image_url: 'not a url', title: 'Offre' }, schedule: {} },
      { type: 'web' as const, content_template: 'Offre', config: {}, schedule: {} },
    ];
    given(decider, [created({ channels: broken })])
      .when(launch())
      .thenThrows('invalid_channel', [
        { path: 'channels.0.content_template' },
        { path: 'channels.1.config.platforms' },
        { path: 'channels.2.schedule.at', message: 'must be between start_date and end_date' },
        { path: 'channels.3.config.image_url' },
        { path: 'channels.4.config.title' },
      ]);
  });

  it('emits only catalogue events', () => {
    given(decider, [created()]).when(launch());
    expectConformToCatalogue(campaignEvents, decider.emitted);
  });
});

describe('campaign channel plans', () => {
  it('read each channel: posts at the scheduled times, templates, the web promotion', () => {
    const planned = planChannels(
      [
        ...fields.channels,
        { type: 'social_media', content_template: 'Deux posts', config: { platforms: ['twitter', 'twitter'] }, schedule: { times: ['2025-04-20T18:00:00+02:00', '2025-04-11T10:00:00Z'] } },
      ],
      fields,
    );
    if (!('plans' in planned)) throw new Error(JSON.stringify(planned.problems));
    expect(planned.plans).toEqual([
      { type: 'email', index: 0, template_id: 'promotional_email', data: {}, cost_per_message: 0.01 },
      { type: 'sms', index: 1, template_id: 'promo_sms', data: {}, cost_per_message: 0.05 },
      {
        type: 'social_media',
        index: 2,
        platforms: ['facebook', 'instagram'],
        content: { title: '', body: 'Le menu de printemps est là !', media_urls: ['https://cdn.levieuxmoulin.fr/printemps.jpg'], hashtags: [] },
        times: ['2025-04-10T00:00:00.000Z'],
        spend: 20,
      },
      { type: 'web', index: 3, title: 'Menu de printemps', body: 'Un dessert offert pour tout menu.', image_url: null, link_url: 'https://levieuxmoulin.fr/reserver', spend: 0 },
      {
        type: 'social_media',
        index: 4,
        platforms: ['twitter'],
        content: { title: '', body: 'Deux posts', media_urls: [], hashtags: [] },
        times: ['2025-04-11T10:00:00.000Z', '2025-04-20T16:00:00.000Z'],
        spend: 0,
      },
    ]);
    expect(plannedSpend(planned.plans, { email: 3, sms: 1 })).toBe(20.08);
  });
});
