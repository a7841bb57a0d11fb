import { describe, expect, it } from 'vitest';
import {
  campaignDecider,
  campaignEvents,
  campaignFieldsSchema,
  type CampaignCommand,
  type CampaignEvent,
  type CampaignFields,
} from '../../src/domain/campaign.js';
import { fold } from '../../src/domain/decider.js';
import { expectConformToCatalogue, given, recording, run } from './given-when-then.js';

const campaign_id = '3f1c2b8e-5d4a-4c9b-8f2e-1a2b3c4d5e6f';
const now = '2025-04-01T10:00:00.000Z';
const fields: CampaignFields = campaignFieldsSchema.parse({
  name: 'Printemps au Vieux Moulin',
  description: 'Menu de printemps',
  start_date: '2025-04-10T00:00:00Z',
  end_date: '2025-04-30T00:00:00Z',
  budget: 250.5,
  channels: [{ type: 'email' }, { type: 'social_media', config: { platforms: ['facebook'] } }],
});

const decider = recording(campaignDecider);

const created = (overrides: Partial<CampaignFields> = {}): CampaignEvent => ({
  type: 'CampaignCreated',
  data: { campaign_id, ...fields, ...overrides },
});
const scheduled: CampaignEvent = {
  type: 'CampaignScheduled',
  data: { campaign_id, start_date: fields.start_date, end_date: fields.end_date },
};
const activated: CampaignEvent = { type: 'CampaignActivated', data: { campaign_id, activated_at: '2025-04-10T00:00:00.000Z' } };
const completed: CampaignEvent = { type: 'CampaignCompleted', data: { campaign_id, completed_at: '2025-04-30T00:00:00.000Z' } };
const canceled: CampaignEvent = {
  type: 'CampaignCanceled',
  data: { campaign_id, canceled_at: '2025-04-02T00:00:00.000Z', reason: '' },
};

const history = {
  draft: [created()],
  scheduled: [created(), scheduled],
  active: [created(), scheduled, activated],
  completed: [created(), scheduled, activated, completed],
  canceled: [created(), canceled],
};

const create = (f: CampaignFields = fields): CampaignCommand => ({ type: 'CreateCampaign', campaign_id, fields: f, now });
const update = (changes: Partial<CampaignFields>, at = now): CampaignCommand => ({
  type: 'UpdateCampaign',
  campaign_id,
  changes,
  now: at,
});
const schedule = (at = now): CampaignCommand => ({ type: 'ScheduleCampaign', campaign_id, now: at });
const activate = (at = '2025-04-10T00:00:00.000Z'): CampaignCommand => ({ type: 'ActivateCampaign', campaign_id, now: at });
const complete: CampaignCommand = { type: 'CompleteCampaign', campaign_id, now: '2025-04-30T00:00:00.000Z' };
const cancel = (reason?: string): CampaignCommand => ({ type: 'CancelCampaign', campaign_id, reason, now });

describe('CreateCampaign', () => {
  it('creates a draft campaign with all its fields', () => {
    given(decider).when(create()).then([created()]);
    expect(fold(campaignDecider, [created()])).toMatchObject({ status: 'draft', campaign_id, name: fields.name });
  });

  it('refuses a campaign that already exists', () => {
    given(decider, history.draft).when(create()).thenThrows('campaign_already_exists');
  });

  it.each([
    ['before', '2025-04-09T00:00:00Z'],
    ['equal to', fields.start_date],
  ])('refuses an end_date %s start_date', (_label, end_date) => {
    given(decider)
      .when(create({ ...fields, end_date }))
      .thenThrows('invalid_date_range', [{ path: 'end_date' }]);
  });

  it('compares dates as instants, whatever their offset', () => {
    const f = { ...fields, start_date: '2025-04-10T10:00:00+02:00', end_date: '2025-04-10T09:00:00Z' };
    given(decider).when(create(f)).then([created(f)]);
  });
});

describe('a campaign that does not exist', () => {
  it.each<CampaignCommand>([update({ name: 'x' }), schedule(), activate(), complete, cancel()])(
    'cannot take $type',
    (command) => {
      given(decider).when(command).thenThrows('campaign_not_found');
    },
  );
});

describe('UpdateCampaign', () => {
  it('records only the fields that change', () => {
    given(decider, history.draft)
      .when(update({ name: 'Nouveau nom', description: fields.description, budget: 300 }))
      .then([{ type: 'CampaignUpdated', data: { campaign_id, changes: { name: 'Nouveau nom', budget: 300 } } }]);
  });

  it('records nothing when nothing changes', () => {
    given(decider, history.draft).when(update({ name: fields.name, channels: fields.channels })).then([]);
  });

  it('ignores fields given as undefined', () => {
    given(decider, history.draft).when(update({ name: undefined })).then([]);
  });

  it('folds the changes into the state', () => {
    const renamed: CampaignEvent = { type: 'CampaignUpdated', data: { campaign_id, changes: { name: 'Renommée' } } };
    given(decider, [...history.draft, renamed]).when(update({ name: 'Renommée' })).then([]);
    expect(fold(campaignDecider, [...history.draft, renamed])).toMatchObject({ name: 'Renommée', budget: fields.budget });
  });

  it('can edit a scheduled campaign', () => {
    given(decider, history.scheduled)
      .when(update({ priority: 80 }))
      .then([{ type: 'CampaignUpdated', data: { campaign_id, changes: { priority: 80 } } }]);
  });

  it.each(['active', 'completed', 'canceled'] as const)('cannot edit a %s campaign', (status) => {
    given(decider, history[status]).when(update({ name: 'x' })).thenThrows('campaign_not_editable');
  });

  it('checks the date range of the campaign as it would become', () => {
    given(decider, history.draft)
      .when(update({ end_date: '2025-04-05T00:00:00Z' }))
      .thenThrows('invalid_date_range', [{ path: 'end_date' }]);
  });

  it('lets a draft keep a past end date (it is checked when scheduling)', () => {
    const at = '2025-05-15T00:00:00.000Z';
    given(decider, history.draft)
      .when(update({ end_date: '2025-05-01T00:00:00Z' }, at))
      .then([{ type: 'CampaignUpdated', data: { campaign_id, changes: { end_date: '2025-05-01T00:00:00Z' } } }]);
  });

  it('keeps a scheduled campaign schedulable: channels are still required', () => {
    given(decider, history.scheduled).when(update({ channels: [] })).thenThrows('campaign_has_no_channels', [{ path: 'channels' }]);
  });

  it('keeps a scheduled campaign schedulable: its end date must stay in the future', () => {
    given(decider, history.scheduled)
      .when(update({ end_date: '2025-04-20T00:00:00Z' }, '2025-04-25T00:00:00.000Z'))
      .thenThrows('campaign_ended', [{ path: 'end_date' }]);
  });
});

describe('ScheduleCampaign', () => {
  it('schedules a draft with channels and a future end date', () => {
    given(decider, history.draft).when(schedule()).then([scheduled]);
    expect(fold(campaignDecider, history.scheduled).status).toBe('scheduled');
  });

  it('needs at least one channel', () => {
    given(decider, [created({ channels: [] })]).when(schedule()).thenThrows('campaign_has_no_channels', [{ path: 'channels' }]);
  });

  it.each([
    ['has passed', '2025-05-01T00:00:00.000Z'],
    ['is now', '2025-04-30T00:00:00.000Z'],
  ])('refuses a campaign whose end date %s', (_label, at) => {
    given(decider, history.draft).when(schedule(at)).thenThrows('campaign_ended', [{ path: 'end_date' }]);
  });

  it.each(['scheduled', 'active', 'completed', 'canceled'] as const)('cannot schedule a %s campaign', (status) => {
    given(decider, history[status]).when(schedule()).thenThrows('invalid_transition', [{ path: 'status' }]);
  });
});

describe('ActivateCampaign', () => {
  it('activates a scheduled campaign at now', () => {
    given(decider, history.scheduled).when(activate()).then([activated]);
    expect(fold(campaignDecider, history.active).status).toBe('active');
  });

  it('refuses once the end date has passed', () => {
    given(decider, history.scheduled).when(activate('2025-04-30T00:00:00.000Z')).thenThrows('campaign_ended');
  });

  it.each(['draft', 'active', 'completed', 'canceled'] as const)('cannot activate a %s campaign', (status) => {
    given(decider, history[status]).when(activate()).thenThrows('invalid_transition');
  });
});

describe('CompleteCampaign', () => {
  it('completes an active campaign', () => {
    given(decider, history.active).when(complete).then([completed]);
    expect(fold(campaignDecider, history.completed).status).toBe('completed');
  });

  it.each(['draft', 'scheduled', 'completed', 'canceled'] as const)('cannot complete a %s campaign', (status) => {
    given(decider, history[status]).when(complete).thenThrows('invalid_transition');
  });
});

describe('CancelCampaign', () => {
  it.each(['draft', 'scheduled', 'active'] as const)('cancels a %s campaign, with its reason', (status) => {
    given(decider, history[status])
      .when(cancel('météo'))
      .then([{ type: 'CampaignCanceled', data: { campaign_id, canceled_at: now, reason: 'météo' } }]);
  });

  it('records an empty reason when none is given', () => {
    given(decider, history.draft).when(cancel()).then([{ ...canceled, data: { ...canceled.data, canceled_at: now } }]);
    expect(fold(campaignDecider, history.canceled).status).toBe('canceled');
  });

  it.each(['completed', 'canceled'] as const)('cannot cancel a %s campaign', (status) => {
    given(decider, history[status]).when(cancel()).thenThrows('invalid_transition');
  });
});

describe('campaign events', () => {
  it('every event the decider emits parses with its catalogue schema', () => {
    const journey = run(campaignDecider, [create(), update({ name: 'Autre' }), schedule(), activate(), complete]);
    const canceledJourney = run(campaignDecider, [create(), cancel('doublon')]);
    const all = [...journey, ...canceledJourney, ...decider.emitted];
    expect(new Set(all.map((e) => e.type))).toEqual(new Set(Object.keys(campaignEvents)));
    expectConformToCatalogue(campaignEvents, all);
  });
});
