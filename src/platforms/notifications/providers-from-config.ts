import type { NotificationsConfig } from '../../infrastructure/config/config-files.js';
import { createMailjetProvider, type MailjetConfig } from './email/mailjet.js';
import { createSendGridProvider, type SendGridConfig } from './email/sendgrid.js';
import { createSmtpProvider, type SmtpConfig } from './email/smtp.js';
import type { NotificationChannel, NotificationProvider } from './provider.js';
import type { ChannelProviders } from './provider-router.js';
import { createFcmProvider, type FcmConfig } from './push/fcm.js';
import { createWebPushProvider, type WebPushConfig } from './push/web-push.js';
import { createOvhProvider, type OvhConfig } from './sms/ovh.js';
import { createTwilioProvider, type TwilioConfig } from './sms/twilio.js';

export type Entry = { provider: string } & Record<string, unknown>;

/**
 * The providers notifications.json names, per channel: `provider` is the primary, `secondary` the failover. Each
 * factory validates its own entry and names the field that is wrong.
 */
export function providersFromConfig(config: NotificationsConfig, options: { timeoutMs?: number } = {}): Partial<Record<NotificationChannel, ChannelProviders>> {
  const result: Partial<Record<NotificationChannel, ChannelProviders>> = {};
  for (const channel of ['email', 'sms', 'push'] as const) {
    const entry = config[channel] as (Entry & { secondary?: Entry }) | undefined;
    if (!entry) continue;
    const { secondary, ...primary } = entry;
    result[channel] = {
      primary: createProvider(primary, options),
      ...(secondary ? { secondary: createProvider(secondary, options) } : {}),
    };
  }
  return result;
}

export function createProvider(entry: Entry, options: { timeoutMs?: number }): NotificationProvider {
  switch (entry.provider) {
    case 'sendgrid':
      return createSendGridProvider(entry as unknown as SendGridConfig, options);
    case 'mailjet':
      return createMailjetProvider(entry as unknown as MailjetConfig, options);
    case 'smtp':
      return createSmtpProvider(entry as unknown as SmtpConfig, options);
    case 'twilio':
      return createTwilioProvider(entry as unknown as TwilioConfig, options);
    case 'ovh':
      return createOvhProvider(entry as unknown as OvhConfig, options);
    case 'webpush':
      return createWebPushProvider(entry as unknown as WebPushConfig, options);
    case 'fcm':
      return createFcmProvider(entry as unknown as FcmConfig, options);
    default:
      throw new Error(`notifications.json: unknown provider ${entry.provider}`);
  }
}

/** Every provider entry of notifications.json, primaries and secondaries, in channel order. */
export function providerEntries(config: NotificationsConfig): Entry[] {
  return (['email', 'sms', 'push'] as const).flatMap((channel) => {
    const entry = config[channel] as (Entry & { secondary?: Entry }) | undefined;
    if (!entry) return [];
    const { secondary, ...primary } = entry;
    return secondary ? [primary, secondary] : [primary];
  });
}

/** rate_per_second of each configured provider entry, by provider name. */
export function ratesFromConfig(config: NotificationsConfig): Record<string, number> {
  const rates: Record<string, number> = {};
  for (const entry of providerEntries(config)) {
    if (typeof entry.rate_per_second === 'number') rates[entry.provider] = entry.rate_per_second;
  }
  return rates;
}
