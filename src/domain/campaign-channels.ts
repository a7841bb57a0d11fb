import { z } from 'zod';
import type { Channel } from './campaign.js';
import { planExperiment, type ExperimentPlan } from './campaign-experiment.js';
import type { DomainErrorDetail } from './domain-error.js';
import { platformSchema, publicationContentSchema, targetingSchema, type Platform, type PublicationContent, type Targeting } from './publication-events.js';

/**
 * What each channel of a campaign does once the campaign goes live, read from its free-form `config`,
 * `content_template` and `schedule` (spec "Channel"). Parsed when the campaign is launched, so a channel that cannot
 * work is refused then (422, with the field), not discovered while fanning out.
 *
 *   social_media  config {platforms: ["facebook", …], title?, media_urls?, hashtags?, targeting?, spend?}
 *                 content_template: the post's text; schedule {at} or {times: [...]}, default the campaign's start
 *                 → one publication per time, through the publishing scheduler, with the campaign's priority
 *   email, sms    config {template_id?, data?, cost_per_message?, experiment?}; content_template: the notification
 *                 template's id (config.template_id wins) → one notification per audience member with an address on
 *                 the channel, sent when the campaign goes live; consent is checked at send time. With an experiment
 *                 (A/B/n, campaign-experiment.ts) a test share gets the variants and the rest the winner, later
 *   web           config {title, image_url?, link_url?, spend?}; content_template: the promotion's text
 *                 → listed in the public promotions feed while the campaign is active (title, text, image and link:
 *                 nothing else of the campaign is public)
 *
 * spend and cost_per_message are euros; with the audience size they make the campaign's planned spend, which the
 * budget must cover.
 */

const euros = z.number().nonnegative().max(1_000_000_000);
const time = z.iso.datetime({ offset: true });
export const MAX_POSTS_PER_CHANNEL = 20;

const socialConfigSchema = z.strictObject({
  platforms: z.array(platformSchema).min(1).max(10),
  title: publicationContentSchema.shape.title.optional(),
  media_urls: publicationContentSchema.shape.media_urls.optional(),
  hashtags: publicationContentSchema.shape.hashtags.optional(),
  targeting: targetingSchema.optional(),
  spend: euros.optional(),
});
const socialScheduleSchema = z
  .strictObject({ at: time.optional(), times: z.array(time).min(1).max(MAX_POSTS_PER_CHANNEL).optional() })
  .refine((s) => !(s.at && s.times), 'give either at or times, not both');

const messageConfigSchema = z.strictObject({
  template_id: z.string().trim().min(1).max(200).optional(),
  data: z.record(z.string(), z.unknown()).optional().describe('Template variables shared by every recipient'),
  cost_per_message: euros.max(100).optional(),
  /** Checked by planExperiment, which names each field under config.experiment. */
  experiment: z.unknown().optional().describe('A/B/n test: {variants, test_share, metric, test_window_hours, min_sample?}'),
});

const webConfigSchema = z.strictObject({
  title: z.string().trim().min(1).max(300),
  image_url: z.httpUrl().max(2_000).optional(),
  link_url: z.httpUrl().max(2_000).optional(),
  spend: euros.optional(),
});

export interface SocialPlan {
  type: 'social_media';
  index: number;
  platforms: Platform[];
  content: PublicationContent;
  targeting?: Targeting;
  /** UTC times of the posts, in order. */
  times: string[];
  spend: number;
}

export interface MessagePlan {
  type: 'email' | 'sms';
  index: number;
  template_id: string;
  data: Record<string, unknown>;
  cost_per_message: number;
  experiment?: ExperimentPlan;
}

export interface WebPlan {
  type: 'web';
  index: number;
  title: string;
  body: string;
  image_url: string | null;
  link_url: string | null;
  spend: number;
}

export type ChannelPlan = SocialPlan | MessagePlan | WebPlan;

interface CampaignWindow {
  start_date: string;
  end_date: string;
}

/** Every channel's plan, or every problem found (paths under channels.<index>). */
export function planChannels(channels: Channel[], campaign: CampaignWindow): { plans: ChannelPlan[] } | { problems: DomainErrorDetail[] } {
  const plans: ChannelPlan[] = [];
  const problems: DomainErrorDetail[] = [];
  channels.forEach((channel, index) => {
    const result = planChannel(channel, index, campaign);
    if ('plan' in result) plans.push(result.plan);
    else problems.push(...result.problems);
  });
  return problems.length > 0 ? { problems } : { plans };
}

export function planChannel(channel: Channel, index: number, campaign: CampaignWindow): { plan: ChannelPlan } | { problems: DomainErrorDetail[] } {
  const at = (field: string) => `channels.${index}.${field}`;
  const issues = (field: string, error: z.ZodError): DomainErrorDetail[] =>
    error.issues.map((issue) => ({ path: [at(field), ...issue.path.map(String)].join('.'), message: issue.message }));
  switch (channel.type) {
    case 'social_media': {
      const config = socialConfigSchema.safeParse(channel.config);
      const schedule = socialScheduleSchema.safeParse(channel.schedule);
      const problems = [...(config.success ? [] : issues('config', config.error)), ...(schedule.success ? [] : issues('schedule', schedule.error))];
      if (!config.success || !schedule.success) return { problems };
      const body = channel.content_template.trim();
      if (body === '' && (config.data.media_urls ?? []).length === 0) {
        return { problems: [{ path: at('content_template'), message: 'the post needs a text (content_template) or config.media_urls' }] };
      }
      const times = (schedule.data.times ?? [schedule.data.at ?? campaign.start_date]).map((t) => new Date(t).toISOString());
      const outside = times.findIndex((t) => Date.parse(t) < Date.parse(campaign.start_date) || Date.parse(t) >= Date.parse(campaign.end_date));
      if (outside !== -1) {
        return { problems: [{ path: at(schedule.data.times ? `schedule.times.${outside}` : 'schedule.at'), message: 'must be between start_date and end_date' }] };
      }
      const content = publicationContentSchema.parse({
        title: config.data.title ?? '',
        body,
        media_urls: config.data.media_urls ?? [],
        hashtags: config.data.hashtags ?? [],
      });
      const plan: SocialPlan = { type: 'social_media', index, platforms: [...new Set(config.data.platforms)], content, times: [...new Set(times)].sort(), spend: config.data.spend ?? 0 };
      if (config.data.targeting) plan.targeting = config.data.targeting;
      return { plan };
    }
    case 'email':
    case 'sms': {
      const config = messageConfigSchema.safeParse(channel.config);
      if (!config.success) return { problems: issues('config', config.error) };
      const templateId = config.data.template_id ?? channel.content_template.trim();
      if (templateId === '' || templateId.length > 200) {
        return { problems: [{ path: at('content_template'), message: 'names the notification template (or set config.template_id)' }] };
      }
      const plan: MessagePlan = { type: channel.type, index, template_id: templateId, data: config.data.data ?? {}, cost_per_message: config.data.cost_per_message ?? 0 };
      if (config.data.experiment === undefined) return { plan };
      const planned = planExperiment(config.data.experiment, channel.type, index, plan);
      if ('problems' in planned) return { problems: planned.problems };
      return { plan: { ...plan, experiment: planned.experiment } };
    }
    case 'web': {
      const config = webConfigSchema.safeParse(channel.config);
      if (!config.success) return { problems: issues('config', config.error) };
      const body = channel.content_template.trim();
      if (body === '') return { problems: [{ path: at('content_template'), message: 'the promotion needs a text' }] };
      const { title, image_url = null, link_url = null, spend = 0 } = config.data;
      return { plan: { type: 'web', index, title, body, image_url, link_url, spend } };
    }
  }
}

/** Euros the channels will cost: what they declare spending, plus each message's cost times the recipients. */
export function plannedSpend(plans: ChannelPlan[], recipients: { email: number; sms: number }): number {
  const cents = plans.reduce((sum, plan) => {
    if (plan.type === 'social_media' || plan.type === 'web') return sum + Math.round(plan.spend * 100);
    return sum + Math.round(plan.cost_per_message * recipients[plan.type] * 100);
  }, 0);
  return cents / 100;
}
