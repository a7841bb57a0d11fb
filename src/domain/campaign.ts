import { z } from 'zod';
import { parseTargetAudience, type AudienceFacts } from './campaign-audience.js';
import { planChannels, plannedSpend, type ChannelPlan, type MessagePlan } from './campaign-channels.js';
import { experimentDecisionDue } from './campaign-experiment.js';
import type { Decider } from './decider.js';
import { DomainError } from './domain-error.js';
import { defineEvent, type EventCatalogue } from './event-schema.js';
import { assertSuccessMetrics } from './success-metrics.js';

/**
 * Campaign: a multichannel marketing campaign (spec "Modèle de données principal").
 * Lifecycle: draft → scheduled → active → completed | canceled (canceled also from draft and scheduled).
 *
 * Launching (LaunchCampaign) checks everything a campaign needs to run, with the audience as the audience read model
 * sees it (AudienceFacts, given by the caller): dates, channels that can work (campaign-channels.ts), an audience that
 * exists for the e-mail and SMS channels (campaign-audience.ts), and a budget that covers the planned spend. It then
 * schedules the campaign and, once its start date has come, activates it; going live is what fans the channels out
 * (src/reactors/campaigns).
 *
 * An e-mail or SMS channel may carry an A/B/n experiment (campaign-experiment.ts): the launch checks it
 * (invalid_experiment); its winner is recorded in the campaign's experiment stream (campaign-experiment-decider.ts).
 */

export const campaignStatuses = ['draft', 'scheduled', 'active', 'completed', 'canceled'] as const;
export type CampaignStatus = (typeof campaignStatuses)[number];

export const channelTypes = ['social_media', 'email', 'sms', 'web'] as const;

export const channelSchema = z.object({
  type: z.enum(channelTypes),
  config: z.record(z.string(), z.unknown()).default({}),
  content_template: z.string().max(10_000).default(''),
  schedule: z.record(z.string(), z.unknown()).default({}),
});
export type Channel = z.infer<typeof channelSchema>;

const jsonObject = z.record(z.string(), z.unknown());

/** Amounts in euros with at most two decimals. */
export const budgetSchema = z
  .number()
  .nonnegative()
  .max(1_000_000_000)
  .refine((n) => Math.abs(Math.round(n * 100) - n * 100) < 1e-6, 'at most two decimals');

const campaignFieldTypes = {
  name: z.string().trim().min(1).max(200),
  description: z.string().max(5_000),
  start_date: z.iso.datetime({ offset: true }),
  end_date: z.iso.datetime({ offset: true }),
  target_audience: jsonObject,
  budget: budgetSchema,
  success_metrics: jsonObject,
  channels: z.array(channelSchema).max(20),
  /** Higher wins when publications of several campaigns compete for one slot. */
  priority: z.number().int().min(0).max(100),
};

export const campaignFieldsSchema = z.object({
  ...campaignFieldTypes,
  description: campaignFieldTypes.description.default(''),
  target_audience: campaignFieldTypes.target_audience.default({}),
  budget: campaignFieldTypes.budget.default(0),
  success_metrics: campaignFieldTypes.success_metrics.default({}),
  channels: campaignFieldTypes.channels.default([]),
  priority: campaignFieldTypes.priority.default(50),
});
export type CampaignFields = z.infer<typeof campaignFieldsSchema>;

/** No defaults here: an update names only what changes (zod 4 would apply defaults inside optional fields). */
export const campaignUpdateSchema = z.object(campaignFieldTypes).partial();
export type CampaignUpdate = z.infer<typeof campaignUpdateSchema>;

// ---- events -------------------------------------------------------------------------------------------------------

export const CampaignCreated = defineEvent(
  'CampaignCreated',
  1,
  campaignFieldsSchema.extend({ campaign_id: z.uuid() }),
);
export const CampaignUpdated = defineEvent(
  'CampaignUpdated',
  1,
  z.object({ campaign_id: z.uuid(), changes: campaignUpdateSchema }),
);
export const CampaignScheduled = defineEvent(
  'CampaignScheduled',
  1,
  z.object({ campaign_id: z.uuid(), start_date: z.string(), end_date: z.string() }),
);
export const CampaignActivated = defineEvent(
  'CampaignActivated',
  1,
  z.object({ campaign_id: z.uuid(), activated_at: z.string() }),
);
export const CampaignCompleted = defineEvent(
  'CampaignCompleted',
  1,
  z.object({ campaign_id: z.uuid(), completed_at: z.string() }),
);
export const CampaignCanceled = defineEvent(
  'CampaignCanceled',
  1,
  z.object({ campaign_id: z.uuid(), canceled_at: z.string(), reason: z.string().max(1_000).default('') }),
);

export const campaignEvents = {
  CampaignCreated,
  CampaignUpdated,
  CampaignScheduled,
  CampaignActivated,
  CampaignCompleted,
  CampaignCanceled,
} satisfies EventCatalogue;

type EventOf<D> = D extends { type: infer T; schema: infer S extends z.ZodType } ? { type: T; data: z.infer<S> } : never;
export type CampaignEvent = EventOf<(typeof campaignEvents)[keyof typeof campaignEvents]>;

// ---- commands -----------------------------------------------------------------------------------------------------

/** `now` is given by the caller: deciders read no clock. */
export type CampaignCommand =
  | { type: 'CreateCampaign'; campaign_id: string; fields: CampaignFields; now: string }
  | { type: 'UpdateCampaign'; campaign_id: string; changes: CampaignUpdate; now: string }
  | { type: 'ScheduleCampaign'; campaign_id: string; now: string }
  | { type: 'ActivateCampaign'; campaign_id: string; now: string }
  | { type: 'CompleteCampaign'; campaign_id: string; now: string }
  | { type: 'CancelCampaign'; campaign_id: string; reason?: string; now: string }
  | {
      type: 'LaunchCampaign';
      campaign_id: string;
      /** The audience as resolved before the command; null when the campaign names none (or none that parses). */
      audience: AudienceFacts | null;
      now: string;
    };

// ---- state --------------------------------------------------------------------------------------------------------

export type CampaignState =
  | { status: 'none' }
  | ({ status: CampaignStatus; campaign_id: string } & CampaignFields);

export const campaignDecider: Decider<CampaignCommand, CampaignEvent, CampaignState> = {
  initialState: () => ({ status: 'none' }),
  decide,
  evolve,
};

function decide(command: CampaignCommand, state: CampaignState): CampaignEvent[] {
  if (command.type === 'CreateCampaign') {
    if (state.status !== 'none') {
      throw new DomainError('campaign_already_exists', `Campaign ${command.campaign_id} already exists`);
    }
    assertDateRange(command.fields.start_date, command.fields.end_date);
    assertSuccessMetrics(command.fields.success_metrics);
    return [{ type: 'CampaignCreated', data: { campaign_id: command.campaign_id, ...command.fields } }];
  }
  if (state.status === 'none') {
    throw new DomainError('campaign_not_found', `Campaign ${command.campaign_id} does not exist`);
  }
  const id = command.campaign_id;
  switch (command.type) {
    case 'UpdateCampaign': {
      if (state.status !== 'draft' && state.status !== 'scheduled') {
        throw new DomainError('campaign_not_editable', `A ${state.status} campaign cannot be edited`);
      }
      const changes = onlyChanged(state, command.changes);
      if (Object.keys(changes).length === 0) return [];
      const next = { ...state, ...changes };
      assertDateRange(next.start_date, next.end_date);
      if (changes.success_metrics !== undefined) assertSuccessMetrics(changes.success_metrics);
      if (state.status === 'scheduled') assertSchedulable(next, command.now);
      return [{ type: 'CampaignUpdated', data: { campaign_id: id, changes } }];
    }
    case 'ScheduleCampaign':
      assertTransition(state.status, 'scheduled', ['draft']);
      assertSchedulable(state, command.now);
      return [{ type: 'CampaignScheduled', data: { campaign_id: id, start_date: state.start_date, end_date: state.end_date } }];
    case 'ActivateCampaign':
      assertTransition(state.status, 'active', ['scheduled']);
      if (Date.parse(state.end_date) <= Date.parse(command.now)) {
        throw new DomainError('campaign_ended', 'The campaign end date has passed', [
          { path: 'end_date', message: 'must be in the future to activate' },
        ]);
      }
      return [{ type: 'CampaignActivated', data: { campaign_id: id, activated_at: command.now } }];
    case 'CompleteCampaign':
      assertTransition(state.status, 'completed', ['active']);
      return [{ type: 'CampaignCompleted', data: { campaign_id: id, completed_at: command.now } }];
    case 'CancelCampaign':
      assertTransition(state.status, 'canceled', ['draft', 'scheduled', 'active']);
      return [{ type: 'CampaignCanceled', data: { campaign_id: id, canceled_at: command.now, reason: command.reason ?? '' } }];
    case 'LaunchCampaign':
      return launch(state, command);
  }
}

function launch(state: Exclude<CampaignState, { status: 'none' }>, command: Extract<CampaignCommand, { type: 'LaunchCampaign' }>): CampaignEvent[] {
  const id = command.campaign_id;
  if (state.status !== 'draft' && state.status !== 'scheduled') {
    throw new DomainError('invalid_transition', `A ${state.status} campaign cannot be launched`, [
      { path: 'status', message: `launching needs a draft or scheduled campaign, not ${state.status}` },
    ]);
  }
  assertDateRange(state.start_date, state.end_date);
  assertSchedulable(state, command.now);
  const plans = launchPlans(state);
  assertExperiments(plans, state, command.now);
  assertAudience(state.target_audience, plans, command.audience);
  assertBudget(state.budget, plans, command.audience);
  const events: CampaignEvent[] = [];
  if (state.status === 'draft') {
    events.push({ type: 'CampaignScheduled', data: { campaign_id: id, start_date: state.start_date, end_date: state.end_date } });
  }
  if (Date.parse(state.start_date) <= Date.parse(command.now)) {
    events.push({ type: 'CampaignActivated', data: { campaign_id: id, activated_at: command.now } });
  }
  return events;
}

function launchPlans(campaign: CampaignFields): ChannelPlan[] {
  const planned = planChannels(campaign.channels, campaign);
  if ('problems' in planned) {
    const inExperiment = planned.problems.every((p) => /^channels\.\d+\.config\.experiment(\.|$)/.test(p.path));
    if (inExperiment) throw new DomainError('invalid_experiment', 'An A/B/n experiment of the campaign cannot work as configured', planned.problems);
    throw new DomainError('invalid_channel', 'A channel of the campaign cannot work as configured', planned.problems);
  }
  return planned.plans;
}

/**
 * Variant ids name the variants in the notifications (variant_id), so they are unique within the campaign; and the
 * test window must end before the campaign does, or the rest would never get the winner.
 */
function assertExperiments(plans: ChannelPlan[], campaign: CampaignFields, now: string): void {
  const problems: { path: string; message: string }[] = [];
  const owners = new Map<string, string>();
  const live = Math.max(Date.parse(campaign.start_date), Date.parse(now));
  for (const plan of plans.filter((p): p is MessagePlan => (p.type === 'email' || p.type === 'sms') && p.experiment !== undefined)) {
    const experiment = plan.experiment!;
    const at = `channels.${plan.index}.config.experiment`;
    experiment.variants.forEach((variant, i) => {
      const owner = owners.get(variant.variant_id);
      if (owner) problems.push({ path: `${at}.variants.${i}.id`, message: `${variant.variant_id} is already a variant of ${owner}: variant ids are unique within a campaign` });
      else owners.set(variant.variant_id, `channels.${plan.index}`);
    });
    const due = experimentDecisionDue(new Date(live).toISOString(), experiment);
    if (due.getTime() >= Date.parse(campaign.end_date)) {
      problems.push({ path: `${at}.test_window_hours`, message: `the test would end at ${due.toISOString()}, not before the campaign's end_date` });
    }
  }
  if (problems.length > 0) throw new DomainError('invalid_experiment', 'An A/B/n experiment of the campaign cannot work as configured', problems);
}

/** The e-mail and SMS channels need someone to send to; a named audience must be well-formed and known. */
function assertAudience(target: Record<string, unknown>, plans: ChannelPlan[], facts: AudienceFacts | null): void {
  const messaging = plans.filter((p): p is Extract<ChannelPlan, { type: 'email' | 'sms' }> => p.type === 'email' || p.type === 'sms');
  if (Object.keys(target).length === 0) {
    if (messaging.length === 0) return;
    throw new DomainError('campaign_has_no_audience', 'E-mail and SMS channels need a target audience', [
      { path: 'target_audience', message: 'name a CRM segment ({"segment": "fideles"}) or customers ({"customers": [ids]})' },
    ]);
  }
  const parsed = parseTargetAudience(target);
  if ('problems' in parsed) throw new DomainError('invalid_target_audience', 'The target audience is not one this service understands', parsed.problems);
  if (parsed.audience.segment !== undefined && facts?.segmentKnown !== true) {
    throw new DomainError('unknown_segment', `The CRM has no segment ${parsed.audience.segment}`, [
      { path: 'target_audience.segment', message: 'unknown segment (segments come from crm.segments.membership_changed)' },
    ]);
  }
  for (const plan of messaging) {
    if ((facts?.perChannel[plan.type] ?? 0) > 0) continue;
    throw new DomainError('audience_empty', `No customer of the audience has an address for the ${plan.type} channel`, [
      { path: 'target_audience', message: `no recipient for channels.${plan.index} (${plan.type})` },
    ]);
  }
}

function assertBudget(budget: number, plans: ChannelPlan[], facts: AudienceFacts | null): void {
  const planned = plannedSpend(plans, facts?.perChannel ?? { email: 0, sms: 0 });
  if (planned <= budget) return;
  throw new DomainError('budget_below_spend', `The planned spend (${planned.toFixed(2)} €) is more than the budget (${budget.toFixed(2)} €)`, [
    { path: 'budget', message: `must cover the planned spend of ${planned.toFixed(2)} € (channel spend and cost per message × recipients)` },
  ]);
}

function evolve(state: CampaignState, event: CampaignEvent): CampaignState {
  switch (event.type) {
    case 'CampaignCreated': {
      const { campaign_id, ...fields } = event.data;
      return { status: 'draft', campaign_id, ...fields };
    }
    case 'CampaignUpdated':
      return state.status === 'none' ? state : { ...state, ...definedOnly(event.data.changes) };
    case 'CampaignScheduled':
      return state.status === 'none' ? state : { ...state, status: 'scheduled' };
    case 'CampaignActivated':
      return state.status === 'none' ? state : { ...state, status: 'active' };
    case 'CampaignCompleted':
      return state.status === 'none' ? state : { ...state, status: 'completed' };
    case 'CampaignCanceled':
      return state.status === 'none' ? state : { ...state, status: 'canceled' };
  }
}

function assertTransition(from: CampaignStatus, to: CampaignStatus, allowedFrom: CampaignStatus[]): void {
  if (!allowedFrom.includes(from)) {
    throw new DomainError('invalid_transition', `A ${from} campaign cannot become ${to}`, [
      { path: 'status', message: `${from} → ${to} is not allowed; allowed from: ${allowedFrom.join(', ')}` },
    ]);
  }
}

function assertDateRange(start: string, end: string): void {
  if (Date.parse(end) <= Date.parse(start)) {
    throw new DomainError('invalid_date_range', 'end_date must be after start_date', [
      { path: 'end_date', message: 'must be after start_date' },
    ]);
  }
}

function assertSchedulable(campaign: CampaignFields, now: string): void {
  if (campaign.channels.length === 0) {
    throw new DomainError('campaign_has_no_channels', 'A campaign needs at least one channel to be scheduled', [
      { path: 'channels', message: 'at least one channel is required' },
    ]);
  }
  if (Date.parse(campaign.end_date) <= Date.parse(now)) {
    throw new DomainError('campaign_ended', 'The campaign end date has passed', [
      { path: 'end_date', message: 'must be in the future to schedule' },
    ]);
  }
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Keeps the fields whose value differs from the state, so an update that changes nothing records nothing. */
function onlyChanged(state: CampaignFields, changes: CampaignUpdate): CampaignUpdate {
  const result: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(changes)) {
    if (value === undefined) continue;
    if (JSON.stringify(value) !== JSON.stringify(state[key as keyof CampaignFields])) result[key] = value;
  }
  return result as CampaignUpdate;
}
