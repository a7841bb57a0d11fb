import { z } from 'zod';
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
  /** The address providers and customers reach this service at: callback signatures, unsubscribe links. */
  COMM_PUBLIC_URL: z.url({ protocol: /^https?$/ }).optional(),
  /** Encrypts and signs unsubscribe links (32+ characters); unset: generated once and kept in the data dir. */
  COMM_UNSUBSCRIBE_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  COMM_DATA_DIR: z.string().min(1).default('./data'),
  COMM_CONFIG_DIR: z.string().min(1).default('./config'),
  COMM_ADMIN_API_KEY: z.string().min(24, 'must be at least 24 characters').optional(),
  /** What this process runs: any of api, projector, worker (comma-separated). Default: all three. */
  COMM_ROLES: z
    .string()
    .regex(/^\s*(api|projector|worker)\s*(,\s*(api|projector|worker)\s*)*$/, 'must list api, projector and/or worker, comma-separated')
    .default('api,projector,worker')
    .transform((value) => new Set(value.split(',').map((role) => role.trim()) as ('api' | 'projector' | 'worker')[])),
  /** How long a job held by a worker that stopped answering waits before another worker gets it (JetStream). */
  COMM_JOB_ACK_WAIT_MS: z.coerce.number().int().min(1_000).max(3_600_000).default(30_000),
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
