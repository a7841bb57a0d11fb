import type { AnalyticsChannel } from '../../domain/conversion.js';

/**
 * What a tracked link says about where a customer came from. Links in our messages and posts carry:
 *   utm_campaign = the campaign id, utm_medium = email | sms | push | social, utm_source = the provider or the social
 *   platform (sendgrid, facebook…), utm_content = the notification or publication id.
 * Anything else in the link (other parameters, values that are not ours) is ignored.
 */
export interface TrackedLink {
  campaign_id: string | null;
  channel: AnalyticsChannel | null;
  platform: string | null;
  /** A notification or publication id. */
  content_id: string | null;
}

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const mediums: Record<string, AnalyticsChannel> = { email: 'email', sms: 'sms', push: 'push', social: 'social_media', social_media: 'social_media' };

export function trackedLinkOf(url: string | null | undefined): TrackedLink | null {
  if (!url) return null;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return null;
  }
  const param = (name: string) => parsed.searchParams.get(name)?.trim().toLowerCase() || null;
  const campaign = param('utm_campaign');
  const content = param('utm_content');
  const source = param('utm_source');
  const medium = param('utm_medium');
  const link: TrackedLink = {
    campaign_id: campaign && uuid.test(campaign) ? campaign : null,
    channel: medium ? (mediums[medium] ?? null) : null,
    platform: source && /^[a-z0-9_]{1,50}$/.test(source) ? source : null,
    content_id: content && uuid.test(content) ? content : null,
  };
  return link.campaign_id || link.content_id ? link : null;
}
