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
  /** The address providers and customers reach this service at: callback signatures, unsubscribe links. */
  COMM_PUBLIC_URL: z.url({ protocol: /^https?$/ }).optional(),
  /** Encrypts and signs unsubscribe links (32+ characters); unset: generated once and kept in the data dir. */
  COMM_UNSUBSCRIBE_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  COMM_DATA_DIR: z.string().min(1).default('./data'),
  COMM_CONFIG_DIR: z.string().min(1).default('./config'),
  COMM_ADMIN_API_KEY: z.string().min(24, 'must be at least 24 characters').optional(),
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
