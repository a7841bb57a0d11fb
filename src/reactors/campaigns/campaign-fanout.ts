import { CommandHandler, seededUuid, type CommandContext } from '../../commands/command-handler.js';
import { campaignStreamId } from '../../commands/campaign-routes.js';
import { NotificationBatch } from '../../commands/notification-batch.js';
import type { TemplateDirectory } from '../../commands/notification-routes.js';
import type { PublicationPublisher } from '../../commands/publication-publisher.js';
import { publicationStreamId } from '../../commands/publication-publisher.js';
import { parseTargetAudience, type TargetAudience } from '../../domain/campaign-audience.js';
import { planChannel, type ChannelPlan, type MessagePlan, type SocialPlan } from '../../domain/campaign-channels.js';
import { experimentBucket, variantOfBucket, type WinnerChosen } from '../../domain/campaign-experiment.js';
import { campaignDecider, campaignEvents, type CampaignCommand, type CampaignEvent, type CampaignState } from '../../domain/campaign.js';
import { isDomainError } from '../../domain/domain-error.js';
import { validatePublication } from '../../domain/publication-validation.js';
import type { SharedDatabase } from '../../infrastructure/database/kysely.js';
import { comparePositions, type EventStore, type Position, type RecordedEvent } from '../../infrastructure/event-store/event-store.js';
import type { Logger } from '../../infrastructure/logging/logger.js';
import { AudienceReader, type AudienceMember } from '../../projections/audience/audience-reader.js';
import type { ReadPositions } from '../../projections/read-positions.js';
import type { ReactorDefinition } from '../reactor.js';
import { CampaignFanoutProgress } from './campaign-fanout-progress.js';
import { PendingCampaignNotifications } from './pending-campaign-notifications.js';

type ActiveCampaign = Exclude<CampaignState, { status: 'none' }>;

/** One member's message in a phase of a channel. */
interface Message {
  template_id: string;
  template_version: number;
  data: Record<string, unknown>;
  variant_id?: string;
}
type Chooser = (member: AudienceMember) => Message | null;

const APPEND_CONCURRENCY = 2;

export interface CampaignFanoutDeps {
  store: EventStore;
  db: SharedDatabase;
  templates: TemplateDirectory;
  publisher: PublicationPublisher;
  positions: ReadPositions;
  logger: Logger;
  /** Recipients read and requested per store call (default 2,000). */
  pageSize?: number;
  /** How long a cancellation waits for the notifications read model to show every request of the campaign. */
  catchUpTimeoutMs?: number;
}

/** The id of the n-th post of a social channel, and of one recipient's notification: the same on every replay. */
export const campaignPublicationId = (campaignId: string, channelIndex: number, post: number) => seededUuid(`campaign:${campaignId}:channel:${channelIndex}:post:${post}`);
export const campaignNotificationId = (campaignId: string, channelIndex: number, customerId: string) =>
  seededUuid(`campaign:${campaignId}:channel:${channelIndex}:customer:${customerId}`);

/**
 * A campaign going live fans its channels out; a campaign canceled stops what is still pending.
 *
 * - CampaignActivated: each social_media channel schedules its posts through the publishing scheduler (the path of
 *   POST /publish) with the campaign's priority, which decides who moves when two posts want one slot; each e-mail or
 *   SMS channel requests one notification per audience member with an address on it, read page by page from the
 *   audience read model and appended a page per store call. Consent is the notification worker's to check at send
 *   time. The web channel needs nothing here: the promotions read model follows the campaign's events.
 * - CampaignCanceled: posts not yet published are canceled, and so are the campaign's notifications still pending.
 * - A/B/n experiments (campaign-experiment.ts): going live, a channel with an experiment requests only its test share,
 *   each member the variant its bucket gives (variant_id on the notification); CampaignVariantWinnerChosen requests the
 *   rest of the audience with the winner. Members are placed by a hash, so both phases agree on who is in the test
 *   share whatever the order the audience is read in. A campaign canceled or ended first sends the rest nothing.
 *
 * Ids derive from the campaign, the channel and the recipient (or post): a replay after a crash, or the event handled
 * twice, requests nothing twice. A fan-out looks at the campaign again between pages and stops once it is canceled.
 */
export function campaignFanout(deps: CampaignFanoutDeps): ReactorDefinition {
  const { store, logger } = deps;
  const campaigns = new CommandHandler<CampaignCommand, CampaignEvent, CampaignState>(store, campaignDecider, campaignEvents);
  const audience = new AudienceReader(deps.db);
  const notifications = new NotificationBatch(store);
  const pending = new PendingCampaignNotifications(deps.db);
  const progress = new CampaignFanoutProgress(deps.db);
  const pageSize = deps.pageSize ?? 2_000;

  const contextOf = (event: RecordedEvent): CommandContext => ({
    correlationId: String(event.metadata.correlation_id ?? event.id),
    causationId: event.id,
    actor: 'campaign-fanout',
    now: new Date(),
  });

  /** The channels that can work; one that cannot (a campaign activated without launching) is logged and left out. */
  const plansOf = (campaign: ActiveCampaign): ChannelPlan[] =>
    campaign.channels.flatMap((channel, index) => {
      const planned = planChannel(channel, index, campaign);
      if ('plan' in planned) return [planned.plan];
      logger.warn({ campaign_id: campaign.campaign_id, channel: index, problems: planned.problems.map((p) => p.path) }, 'campaign channel left out: it cannot work as configured');
      return [];
    });

  async function stillActive(campaignId: string): Promise<boolean> {
    return (await campaigns.load(campaignStreamId(campaignId))).state.status === 'active';
  }

  async function publishPosts(campaign: ActiveCampaign, plan: SocialPlan, context: CommandContext): Promise<void> {
    const check = validatePublication({ content: plan.content, platforms: plan.platforms });
    if (!check.valid) {
      logger.warn({ campaign_id: campaign.campaign_id, channel: plan.index, violations: check.violations.map((v) => `${v.platform}.${v.field}:${v.code}`) }, 'campaign posts left out: they break platform rules');
      return;
    }
    for (const [post, time] of plan.times.entries()) {
      const id = campaignPublicationId(campaign.campaign_id, plan.index, post);
      const at = new Date(Math.max(Date.parse(time), context.now.getTime())).toISOString();
      const request = { content: plan.content, platforms: plan.platforms, scheduled_time: at, targeting: plan.targeting, campaign_id: campaign.campaign_id, priority: campaign.priority };
      try {
        await deps.publisher.publish(id, request, context);
      } catch (error) {
        if (!isDomainError(error)) throw error;
        if (error.code !== 'publication_already_exists') logger.warn({ campaign_id: campaign.campaign_id, publication_id: id, code: error.code }, 'campaign post not scheduled');
      }
    }
  }

  /**
   * What each member of the audience gets in this phase of the channel (null: nothing now), or null when a template
   * it needs does not exist. launch: everyone (no experiment) or the test share's variants; a winner: the rest.
   */
  async function chooserFor(campaign: ActiveCampaign, plan: MessagePlan, phase: 'launch' | { winner: string }): Promise<Chooser | null> {
    const experiment = plan.experiment;
    const variants = experiment ? experiment.variants.filter((v) => phase === 'launch' || v.variant_id === phase.winner) : [{ variant_id: undefined, template_id: plan.template_id, data: plan.data }];
    const messages = new Map<string | undefined, Message>();
    for (const variant of variants) {
      const version = await deps.templates.currentVersion(variant.template_id);
      if (version === null) {
        logger.warn({ campaign_id: campaign.campaign_id, channel: plan.index, template_id: variant.template_id }, 'campaign channel left out: its template does not exist');
        return null;
      }
      messages.set(variant.variant_id, { template_id: variant.template_id, template_version: version, data: variant.data, variant_id: variant.variant_id });
    }
    if (!experiment) return () => messages.get(undefined)!;
    const bucketOf = (member: AudienceMember) => experimentBucket(campaign.campaign_id, plan.index, member.customer_id);
    if (phase === 'launch') {
      return (member) => {
        const variant = variantOfBucket(experiment, bucketOf(member));
        return variant ? messages.get(variant.variant_id)! : null;
      };
    }
    const winner = messages.get(phase.winner);
    if (!winner) return null;
    return (member) => (variantOfBucket(experiment, bucketOf(member)) === null ? winner : null);
  }

  async function requestMessages(campaign: ActiveCampaign, plan: MessagePlan, target: TargetAudience, context: CommandContext, phase: 'launch' | { winner: string } = 'launch'): Promise<void> {
    const choose = await chooserFor(campaign, plan, phase);
    if (!choose) return;
    let requested = 0;
    let rejected = 0;
    let furthest: Position | null = null;
    // Pages appended at once (each its own transaction), while the next page is read: the store's time per page is
    // mostly index upkeep, which a second writer overlaps.
    const inFlight = new Set<Promise<void>>();
    const append = async (page: AudienceMember[]) => {
      const chosen = page.flatMap((member) => {
        const message = choose(member);
        return message ? [{ member, message }] : [];
      });
      if (chosen.length === 0) return;
      const outcome = await notifications.request(
        chosen.map(({ member, message }) => ({
          notification_id: campaignNotificationId(campaign.campaign_id, plan.index, member.customer_id),
          request: {
            template_id: message.template_id,
            template_version: message.template_version,
            recipient: member.address,
            channel: plan.type,
            // Object.assign, not `{ ...message.data, customer }`: V8 builds a spread followed by properties on a slow path.
            data: Object.assign({}, message.data, { customer: { first_name: member.first_name, last_name: member.last_name, language: member.language } }),
            campaign_id: campaign.campaign_id,
            ...(message.variant_id ? { variant_id: message.variant_id } : {}),
          },
        })),
        context,
      );
      requested += outcome.requested;
      rejected += outcome.rejected.length;
      if (outcome.position && (!furthest || comparePositions(outcome.position, furthest) > 0)) furthest = outcome.position;
    };
    let failure: { error: unknown } | null = null;
    let nextPage: Promise<AudienceMember[]> = audience.page(target, plan.type, null, pageSize);
    try {
      for (;;) {
        const page = await nextPage;
        if (page.length === 0) break;
        nextPage = page.length < pageSize ? Promise.resolve([]) : audience.page(target, plan.type, page[page.length - 1]!.customer_id, pageSize);
        // Marked handled now: if an append fails, the next page may never be awaited. Awaiting it still throws.
        nextPage.catch(() => undefined);
        if (!(await stillActive(campaign.campaign_id))) {
          logger.info({ campaign_id: campaign.campaign_id, channel: plan.index, requested }, 'campaign no longer active: fan-out stopped');
          return;
        }
        const appending: Promise<void> = append(page)
          .catch((error: unknown) => void (failure ??= { error }))
          .finally(() => inFlight.delete(appending));
        inFlight.add(appending);
        if (inFlight.size >= APPEND_CONCURRENCY) await Promise.race(inFlight);
        if (failure) break;
      }
    } finally {
      await Promise.all(inFlight);
    }
    // A page that failed fails the fan-out: the reactor handles the event again, and what was appended is a repeat.
    if (failure) throw (failure as { error: unknown }).error;
    // What a cancellation of the campaign waits for the notifications read model to reach.
    if (furthest) await progress.record(campaign.campaign_id, furthest, requested);
    logger.info({ campaign_id: campaign.campaign_id, channel: plan.index, type: plan.type, phase: typeof phase === 'string' ? phase : 'winner', requested, rejected }, 'campaign notifications requested');
  }

  /** The rest of an experiment's audience gets the winner, while the campaign is active. */
  async function sendWinner(event: RecordedEvent, context: CommandContext): Promise<void> {
    const decision = event.data as WinnerChosen;
    const { state } = await campaigns.load(campaignStreamId(decision.campaign_id));
    if (state.status !== 'active') return; // canceled or ended: the rest is not sent
    const plan = plansOf(state).find((p): p is MessagePlan => p.index === decision.channel_index && (p.type === 'email' || p.type === 'sms'));
    if (!plan?.experiment) return;
    const parsed = parseTargetAudience(state.target_audience);
    if ('problems' in parsed) return;
    await requestMessages(state, plan, parsed.audience, context, { winner: decision.winner_variant_id });
  }

  async function fanOut(campaignId: string, context: CommandContext): Promise<void> {
    const { state } = await campaigns.load(campaignStreamId(campaignId));
    if (state.status !== 'active') return; // canceled or completed before we got to it
    const plans = plansOf(state);
    for (const plan of plans) {
      if (plan.type === 'social_media') await publishPosts(state, plan, context);
    }
    const messaging = plans.filter((p): p is MessagePlan => p.type === 'email' || p.type === 'sms');
    if (messaging.length === 0) return;
    const parsed = parseTargetAudience(state.target_audience);
    if ('problems' in parsed) {
      logger.warn({ campaign_id: campaignId, problems: parsed.problems.map((p) => p.path) }, 'campaign e-mail and SMS left out: no usable target audience');
      return;
    }
    for (const plan of messaging) await requestMessages(state, plan, parsed.audience, context);
  }

  async function cancel(event: RecordedEvent, context: CommandContext): Promise<void> {
    const campaignId = event.streamId.slice('campaign-'.length);
    const { state } = await campaigns.load(campaignStreamId(campaignId));
    if (state.status === 'none') return;
    const reason = ['campaign canceled', (event.data as { reason?: string }).reason].filter(Boolean).join(': ');
    for (const plan of plansOf(state)) {
      if (plan.type !== 'social_media') continue;
      for (const post of plan.times.keys()) {
        const id = campaignPublicationId(campaignId, plan.index, post);
        try {
          await deps.publisher.handler.handle(publicationStreamId(id), { type: 'CancelPublication', publication_id: id, reason, now: context.now.toISOString() }, context);
          deps.publisher.booker.forget(id);
        } catch (error) {
          if (!isDomainError(error)) throw error; // never scheduled, or already published: nothing to cancel
        }
      }
    }
    // Every request of the campaign was appended before this event was handled (same reactor, in order): once the
    // notifications read model has reached the last of them, it lists them all.
    const last = await progress.lastPosition(campaignId);
    if (last && !(await deps.positions.waitFor('notifications', last, deps.catchUpTimeoutMs ?? 60_000))) {
      throw new Error(`notifications read model behind: canceling campaign ${campaignId} later`);
    }
    let canceled = 0;
    for await (const page of pending.pages(campaignId, pageSize)) canceled += await notifications.cancel(page, reason, context);
    logger.info({ campaign_id: campaignId, canceled }, 'campaign notifications still pending canceled');
  }

  return {
    name: 'campaign-fanout',
    filter: { categories: ['campaign', 'experiment'], eventTypes: ['CampaignActivated', 'CampaignCanceled', 'CampaignVariantWinnerChosen'] },
    async handle(event) {
      const context = contextOf(event);
      if (event.type === 'CampaignActivated') await fanOut(event.streamId.slice('campaign-'.length), context);
      else if (event.type === 'CampaignVariantWinnerChosen') await sendWinner(event, context);
      else await cancel(event, context);
    },
  };
}
