import { z } from 'zod';
import { OutboundAllowlist } from '../http/outbound-allowlist.js';
import { isEncryptionKeyText } from '../secrets/encryption-key.js';
import { parseCorsOrigins } from '../http/cors-origins.js';
import { formatZodIssues } from './format-issues.js';

/** Environment variables the service accepts. A bad value stops start-up with a message that names it. */
export const envSchema = z.object({
  PORT: z.coerce.number().int().min(0).max(65_535).default(3000),
  HOST: z.string().min(1).default('0.0.0.0'),
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL')
    .optional(),
  EVENTSTORE_URL: z
    .string()
    .regex(/^(esdb|esdb\+discover|kurrentdb|kurrentdb\+discover|kdb|kdb\+discover):\/\//, 'must be an esdb:// or kurrentdb:// connection string')
    .optional(),
  NATS_URL: z
    .string()
    .regex(/^(nats|tls|ws|wss):\/\//, 'must be a nats:// URL (comma-separated list allowed)')
    .optional(),
  /** JetStream stream and subject prefix of the job queues: set them to run several environments on one NATS. */
  COMM_NATS_STREAM: z.string().regex(/^[A-Za-z0-9_-]+$/, 'letters, digits, _ and - only').default('COMM_JOBS'),
  COMM_NATS_SUBJECT_PREFIX: z.string().regex(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/, 'dot-separated tokens, no wildcards').default('comm.jobs'),
  /** JetStream stream of the integration events other modules subscribe to (communication.events.>, kept, not a work queue). */
  COMM_EVENTS_STREAM: z.string().regex(/^[A-Za-z0-9_-]+$/, 'letters, digits, _ and - only').default('COMM_EVENTS'),
  /** Their subjects: `<prefix>.<aggregate>.<event>`. Change it only to run a second environment on the same NATS. */
  COMM_EVENTS_SUBJECT_PREFIX: z.string().regex(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/, 'dot-separated tokens, no wildcards').default('communication.events'),
  /** The CRM module's JetStream stream, read through the durable consumer COMM_CRM_DURABLE (docs/asyncapi.yaml, inbound). */
  COMM_CRM_STREAM: z.string().regex(/^[A-Za-z0-9_-]+$/, 'letters, digits, _ and - only').default('CRM'),
  /** The CRM's subjects: `<prefix>.customers.created` and the others. Change it only to run a second environment on one NATS. */
  COMM_CRM_SUBJECT_PREFIX: z.string().regex(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/, 'dot-separated tokens, no wildcards').default('crm'),
  COMM_CRM_DURABLE: z.string().regex(/^[A-Za-z0-9_-]+$/, 'letters, digits, _ and - only').default('communication'),
  /** The central server's JetStream stream, read through the durable COMM_CENTRAL_DURABLE (central.conversions.recorded). */
  COMM_CENTRAL_STREAM: z.string().regex(/^[A-Za-z0-9_-]+$/, 'letters, digits, _ and - only').default('CENTRAL'),
  /** The central server's subjects: `<prefix>.conversions.recorded`. Change it only to run a second environment on one NATS. */
  COMM_CENTRAL_SUBJECT_PREFIX: z.string().regex(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/, 'dot-separated tokens, no wildcards').default('central'),
  COMM_CENTRAL_DURABLE: z.string().regex(/^[A-Za-z0-9_-]+$/, 'letters, digits, _ and - only').default('communication'),
  /**
   * How often scheduled campaigns whose start date came are activated, and active ones whose end date passed completed
   * (0: never; campaigns then move only through their routes).
   */
  COMM_CAMPAIGN_CLOCK_MS: z.coerce.number().int().min(0).max(3_600_000).default(15_000),
  /** The address providers and customers reach this service at: callback signatures, unsubscribe links. */
  COMM_PUBLIC_URL: z.url({ protocol: /^https?$/ }).optional(),
  /** Encrypts and signs unsubscribe links (32+ characters); unset: generated once and kept in the data dir. */
  COMM_UNSUBSCRIBE_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  COMM_DATA_DIR: z.string().min(1).default('./data'),
  COMM_CONFIG_DIR: z.string().min(1).default('./config'),
  COMM_ADMIN_API_KEY: z.string().min(24, 'must be at least 24 characters').optional(),
  /**
   * The token vault's AES-256 key: 32 bytes as hex (64 digits) or base64 (44 characters). Or a file holding one
   * (COMM_ENCRYPTION_KEY_FILE). Neither: generated once into COMM_DATA_DIR/encryption.key.
   */
  COMM_ENCRYPTION_KEY: z.string().refine(isEncryptionKeyText, 'must be 32 bytes as hex (64 digits) or base64 (44 characters)').optional(),
  COMM_ENCRYPTION_KEY_FILE: z.string().min(1).optional(),
  /** Keys still read with during a rotation (comma-separated, same form); npm run keys:rotate moves everything off them. */
  COMM_ENCRYPTION_PREVIOUS_KEYS: z
    .string()
    .refine((value) => value.split(',').every((key) => !key.trim() || isEncryptionKeyText(key)), 'each key must be 32 bytes as hex or base64, comma-separated')
    .optional(),
  /** What this process runs: any of api, projector, worker (comma-separated). Default: all three. */
  COMM_ROLES: z
    .string()
    .regex(/^\s*(api|projector|worker)\s*(,\s*(api|projector|worker)\s*)*$/, 'must list api, projector and/or worker, comma-separated')
    .default('api,projector,worker')
    .transform((value) => new Set(value.split(',').map((role) => role.trim()) as ('api' | 'projector' | 'worker')[])),
  /** How long a job held by a worker that stopped answering waits before another worker gets it (JetStream). */
  COMM_JOB_ACK_WAIT_MS: z.coerce.number().int().min(1_000).max(3_600_000).default(30_000),
  /** The pause before a failed publication platform's first retry, doubled for each later one (at most 1 h). */
  COMM_PUBLISH_RETRY_BACKOFF_MS: z.coerce.number().int().min(100).max(3_600_000).default(60_000),
  /**
   * How long after its start a publication attempt may still send the call that publishes. An attempt found without a
   * result (its worker died) is searched for on the platform only after this and 30 s more, so it is also how
   * long a crash delays a post. At least Instagram's 5 min wait for Meta to process a video in production.
   */
  COMM_PUBLISH_ATTEMPT_DEADLINE_MS: z.coerce.number().int().min(10_000).max(3_600_000).default(360_000),
  /**
   * On SIGTERM, how long jobs under way may finish before they are handed back to another worker. The whole shutdown
   * is cut off at 15 s, so this leaves room for the rest.
   */
  COMM_SHUTDOWN_GRACE_MS: z.coerce.number().int().min(0).max(12_000).default(8_000),
  /**
   * Hosts, IPs and CIDRs that webhooks and media downloads may reach although they are not public (comma-separated,
   * e.g. "crm.internal,10.20.0.0/16"). Unset: public addresses only.
   */
  COMM_OUTBOUND_ALLOWLIST: z
    .string()
    .default('')
    .transform((value, ctx) => {
      try {
        return OutboundAllowlist.parse(value);
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: (error as Error).message });
        return z.NEVER;
      }
    }),
  /** Requests a minute per API key (per client address for requests without one); 0 turns the limit off. */
  COMM_RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(0).max(10_000_000).default(6_000),
  /** Refused keys from one client address (or with one key prefix) in 5 minutes that raise a SecurityAlertRaised event. */
  COMM_AUTH_FAILURE_ALERT_THRESHOLD: z.coerce.number().int().min(1).max(100_000).default(20),
  /** Refused keys from one client address in 5 minutes after which it gets 429 until they age out. */
  COMM_AUTH_FAILURE_LIMIT: z.coerce.number().int().min(1).max(100_000).default(50),
  /** Browser origins allowed to call the API (comma-separated, e.g. "https://crm.example.com"). Unset: no CORS headers. */
  COMM_CORS_ORIGINS: z
    .string()
    .default('')
    .transform((value, ctx) => {
      try {
        return parseCorsOrigins(value);
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: (error as Error).message });
        return z.NEVER;
      }
    }),
  /** Serve HTTPS (TLS 1.3 only) with this certificate chain and private key, PEM files; set both or neither. */
  TLS_CERT_FILE: z.string().min(1).optional(),
  TLS_KEY_FILE: z.string().min(1).optional(),
  /** GET /metrics without a key, for a scrape network that cannot hold one. Default: the status:read scope is needed. */
  COMM_METRICS_PUBLIC: z
    .enum(['true', 'false'], 'must be true or false')
    .default('false')
    .transform((value) => value === 'true'),
  /** Between two heartbeat rounds (a cheap authenticated call to each platform and provider). */
  COMM_HEARTBEAT_INTERVAL_MS: z.coerce.number().int().min(1_000).max(3_600_000).default(60_000),
  /** Between two rounds of the OAuth token refresher (worker role). */
  COMM_TOKEN_REFRESH_INTERVAL_MS: z.coerce.number().int().min(1_000).max(3_600_000).default(300_000),
  /** An OAuth access token expiring within this many seconds is refreshed (X's live 2 hours, Google's 1 hour). */
  COMM_TOKEN_REFRESH_MARGIN_SECONDS: z.coerce.number().int().min(60).max(86_400).default(1_800),
  /** A projection or reactor this far behind (its oldest unhandled event, in seconds) makes the status degraded. */
  COMM_STATUS_MAX_LAG_SECONDS: z.coerce.number().int().min(1).max(86_400).default(60),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export type Env = z.infer<typeof envSchema>;

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export function loadEnv(source: NodeJS.ProcessEnv = process.env): Env {
  // Empty strings count as unset: `FOO= npm start` should not mean "FOO is the empty string".
  const cleaned = Object.fromEntries(Object.entries(source).filter(([, value]) => value !== undefined && value !== ''));
  const result = envSchema.safeParse(cleaned);
  if (!result.success) {
    throw new ConfigError(`Invalid environment:\n${formatZodIssues(result.error.issues)}`);
  }
  return result.data;
}
