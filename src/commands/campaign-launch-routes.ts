import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { parseTargetAudience, type AudienceFacts } from '../domain/campaign-audience.js';
import { planChannel } from '../domain/campaign-channels.js';
import {
  campaignDecider,
  campaignEvents,
  campaignStatuses,
  type CampaignCommand,
  type CampaignEvent,
  type CampaignState,
} from '../domain/campaign.js';
import type { Platform } from '../domain/publication-events.js';
import { formatPosition, type EventStore } from '../infrastructure/event-store/event-store.js';
import { ApiError, type ErrorDetail } from '../infrastructure/http/api-error.js';
import { errorResponses } from '../infrastructure/http/error-schemas.js';
import type { AudienceReader } from '../projections/audience/audience-reader.js';
import { campaignStreamId } from './campaign-routes.js';
import { CommandHandler } from './command-handler.js';
import type { TemplateDirectory } from './notification-routes.js';
import { commandContext, ifMatchRevision } from './request-context.js';

export interface CampaignLaunchOptions {
  store: EventStore;
  audience: AudienceReader;
  templates: TemplateDirectory;
  /** Platforms with a connector in platforms.json: a campaign posting elsewhere is refused at launch. */
  configuredPlatforms: ReadonlySet<Platform>;
}

const launchedSchema = z.object({
  campaign_id: z.uuid(),
  status: z.enum(campaignStatuses).describe('active when the start date has come (the channels fan out now), scheduled otherwise'),
  revision: z.number().int(),
  position: z.string().nullable(),
  audience: z
    .object({ size: z.number().int(), per_channel: z.object({ email: z.number().int(), sms: z.number().int() }) })
    .nullable()
    .describe('The audience as launched: customers, and those with an address per channel (null: the campaign names none)'),
});

/**
 * POST /api/communication/campaigns/{id}/launch: checks that the campaign can run (the campaign decider's launch rules,
 * with the audience as the audience read model sees it, and the templates and platforms it names), then schedules it
 * and, once its start date has come, activates it. Going live fans the channels out (src/reactors/campaigns).
 * 422 with the rule and the field for: no channel, no audience, an unknown segment, end before start or past, a budget
 * below the planned spend, a channel that cannot work, an A/B/n experiment that cannot (invalid_experiment), an unknown
 * template (a variant's included), a platform without an account.
 */
export function registerCampaignLaunchRoutes(app: FastifyInstance, options: CampaignLaunchOptions): void {
  const handler = new CommandHandler<CampaignCommand, CampaignEvent, CampaignState>(options.store, campaignDecider, campaignEvents);
  app.withTypeProvider<ZodTypeProvider>().post(
    '/api/communication/campaigns/:id/launch',
    {
      config: { scope: 'campaigns:write' },
      schema: {
        tags: ['campaigns'],
        summary: 'Launch a draft or scheduled campaign: every rule checked, then active now (or scheduled until its start date)',
        params: z.object({ id: z.uuid() }),
        headers: z.object({ 'if-match': z.string().optional(), 'idempotency-key': z.string().optional() }),
        body: z.strictObject({}).nullish(),
        response: { 200: launchedSchema, ...errorResponses },
      },
    },
    async (request, reply) => {
      const id = request.params.id;
      const now = new Date();
      const loaded = await handler.load(campaignStreamId(id));
      const facts = loaded.state.status === 'none' ? null : await audienceFacts(options.audience, loaded.state.target_audience);
      const command: CampaignCommand = { type: 'LaunchCampaign', campaign_id: id, audience: facts, now: now.toISOString() };
      // The decider's rules first (they need no I/O), so a campaign that cannot launch says why before we look further.
      campaignDecider.decide(command, loaded.state);
      if (loaded.state.status !== 'none') await checkChannelResources(loaded.state, options);
      const result = await handler.handle(campaignStreamId(id), command, commandContext(request, now), {
        expectedRevision: ifMatchRevision(request),
        loaded: { state: loaded.state, revision: loaded.revision },
      });
      const position = result.position ? formatPosition(result.position) : null;
      reply.header('etag', `"${result.revision}"`);
      if (position) reply.header('x-position', position);
      return {
        campaign_id: id,
        status: result.state.status === 'none' ? 'draft' : result.state.status,
        revision: result.revision,
        position,
        audience: facts ? { size: facts.size, per_channel: facts.perChannel } : null,
      };
    },
  );
}

async function audienceFacts(reader: AudienceReader, target: Record<string, unknown>): Promise<AudienceFacts | null> {
  const parsed = parseTargetAudience(target);
  return 'audience' in parsed ? reader.facts(parsed.audience) : null;
}

/** What only configuration and the template catalogue know: the templates exist, the platforms have an account. */
async function checkChannelResources(campaign: Exclude<CampaignState, { status: 'none' }>, options: CampaignLaunchOptions): Promise<void> {
  const missingTemplates: ErrorDetail[] = [];
  const missingPlatforms: ErrorDetail[] = [];
  for (const [index, channel] of campaign.channels.entries()) {
    const planned = planChannel(channel, index, campaign);
    if (!('plan' in planned)) continue;
    const plan = planned.plan;
    if ((plan.type === 'email' || plan.type === 'sms') && (await options.templates.currentVersion(plan.template_id)) === null) {
      const field = typeof channel.config.template_id === 'string' ? 'config.template_id' : 'content_template';
      missingTemplates.push({ path: `channels.${index}.${field}`, message: `unknown template ${plan.template_id}` });
    }
    if ((plan.type === 'email' || plan.type === 'sms') && plan.experiment) {
      for (const [i, variant] of plan.experiment.variants.entries()) {
        if (variant.template_id === plan.template_id || (await options.templates.currentVersion(variant.template_id)) !== null) continue;
        missingTemplates.push({ path: `channels.${index}.config.experiment.variants.${i}.template_id`, message: `unknown template ${variant.template_id}` });
      }
    }
    if (plan.type === 'social_media') {
      for (const platform of plan.platforms.filter((p) => !options.configuredPlatforms.has(p))) {
        missingPlatforms.push({ path: `channels.${index}.config.platforms`, message: `${platform} has no entry in platforms.json` });
      }
    }
  }
  if (missingTemplates.length > 0) throw new ApiError('template_not_found', 'A channel names a template that does not exist', missingTemplates, 422);
  if (missingPlatforms.length > 0) throw new ApiError('platform_not_configured', 'A channel posts on a platform with no account configured', missingPlatforms, 422);
}
