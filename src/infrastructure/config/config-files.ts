import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { ConfigError } from './env.js';
import { formatZodIssues } from './format-issues.js';

/**
 * The spec's configuration files in COMM_CONFIG_DIR: platforms.json, notifications.json and templates/*.json.
 * All are optional; a file that exists must be valid. Unknown keys inside a platform or provider entry are kept
 * (vendors add fields), unknown top-level platforms are refused (a typo would silently disable a platform).
 */

const baseUrl = z.url({ protocol: /^https?$/ }).optional();
const secret = z.string().min(1);
/** Posting limits of one platform account, enforced by the scheduler (see slot-rules-from-config.ts). */
const postingLimits = {
  posts_per_24h: z.number().int().positive().nullable().optional(),
  min_gap_minutes: z.number().nonnegative().max(1_440).optional(),
};

const platformsSchema = z
  .object({
    facebook: z.looseObject({
      app_id: z.string().min(1).optional(),
      app_secret: secret.optional(),
      page_id: z.string().min(1),
      access_token: secret.optional(),
      api_version: z.string().regex(/^v\d+\.\d+$/, 'must look like v18.0').default('v18.0'),
      base_url: baseUrl,
      ...postingLimits,
    }),
    instagram: z.looseObject({
      business_account_id: z.string().min(1),
      access_token: secret.optional(),
      base_url: baseUrl,
      ...postingLimits,
    }),
    twitter: z.looseObject({
      api_key: secret.optional(),
      api_secret: secret.optional(),
      access_token: secret.optional(),
      access_token_secret: secret.optional(),
      base_url: baseUrl,
      ...postingLimits,
    }),
    google_business: z.looseObject({
      account_id: z.string().min(1).optional(),
      location_id: z.string().min(1).optional(),
      base_url: baseUrl,
      ...postingLimits,
    }),
    linkedin: z.looseObject({
      organization_id: z.string().min(1).optional(),
      access_token: secret.optional(),
      base_url: baseUrl,
      ...postingLimits,
    }),
  })
  .partial()
  .strict();

/** Sends per second allowed to one provider account (token bucket); defaults per provider in provider-router.ts. */
const ratePerSecond = z.number().positive().max(100_000).optional();
/**
 * What one message costs, for spend records, when the provider does not report it (SendGrid, Mailjet, SMTP, push);
 * for OVH, the price of one SMS credit. In cost_currency (default EUR).
 */
const unitCost = {
  unit_cost: z.number().nonnegative().max(1_000).optional(),
  cost_currency: z.string().regex(/^[A-Z]{3}$/, 'an ISO 4217 code such as EUR').optional(),
};

const emailSchema = z.looseObject({
  provider: z.enum(['sendgrid', 'mailjet', 'smtp']),
  rate_per_second: ratePerSecond,
  from_email: z.email(),
  from_name: z.string().default('Le Vieux Moulin'),
  base_url: baseUrl,
  ...unitCost,
});
const smsSchema = z.looseObject({
  provider: z.enum(['twilio', 'ovh']),
  rate_per_second: ratePerSecond,
  from_number: z.string().min(1),
  base_url: baseUrl,
  ...unitCost,
});
const pushSchema = z.looseObject({
  provider: z.enum(['webpush', 'fcm']),
  rate_per_second: ratePerSecond,
  base_url: baseUrl,
  ...unitCost,
});

const notificationsSchema = z
  .object({
    email: emailSchema.extend({ secondary: emailSchema.optional() }),
    sms: smsSchema.extend({ secondary: smsSchema.optional() }),
    push: pushSchema.extend({ secondary: pushSchema.optional() }),
  })
  .partial()
  .strict();

export const templateSchema = z
  .object({
    subject: z.string().optional(),
    body_html: z.string().optional(),
    body_text: z.string().optional(),
    sms: z.string().optional(),
    push: z.looseObject({ title: z.string(), body: z.string() }).optional(),
  })
  .strict()
  .refine((t) => t.body_html ?? t.body_text ?? t.sms ?? t.push, 'a template needs body_html, body_text, sms or push');

const templateFileSchema = z.record(z.string().regex(/^[a-z0-9_-]+$/i, 'template ids are letters, digits, _ and -'), templateSchema);

export type PlatformsConfig = z.infer<typeof platformsSchema>;
export type NotificationsConfig = z.infer<typeof notificationsSchema>;
export type TemplateDefinition = z.infer<typeof templateSchema>;

export interface ConfigFiles {
  platforms: PlatformsConfig;
  notifications: NotificationsConfig;
  templates: Record<string, TemplateDefinition>;
}

export async function loadConfigFiles(configDir: string): Promise<ConfigFiles> {
  const platforms = await loadJsonFile(join(configDir, 'platforms.json'), platformsSchema, {});
  const notifications = await loadJsonFile(join(configDir, 'notifications.json'), notificationsSchema, {});
  const templates: Record<string, TemplateDefinition> = {};
  const templateDir = join(configDir, 'templates');
  for (const file of (await listJsonFiles(templateDir)).sort()) {
    Object.assign(templates, await loadJsonFile(join(templateDir, file), templateFileSchema, {}));
  }
  return { platforms, notifications, templates };
}

async function loadJsonFile<S extends z.ZodType>(path: string, schema: S, fallback: z.input<S>): Promise<z.output<S>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return schema.parse(fallback);
    throw new ConfigError(`Cannot read ${path}: ${(error as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`${path} is not valid JSON: ${(error as Error).message}`);
  }
  const result = schema.safeParse(json);
  if (!result.success) throw new ConfigError(`Invalid ${path}:\n${formatZodIssues(result.error.issues)}`);
  return result.data;
}

async function listJsonFiles(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).filter((name) => name.endsWith('.json'));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new ConfigError(`Cannot read ${dir}: ${(error as Error).message}`);
  }
}
