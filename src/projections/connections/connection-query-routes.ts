import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Kysely } from 'kysely';
import { z } from 'zod';
import { expiryWarningMs } from '../../domain/platform-connection.js';
import { platformSchema, publicationPlatforms, type Platform } from '../../domain/publication-events.js';
import type { SharedDatabase } from '../../infrastructure/database/kysely.js';
import { errorResponses } from '../../infrastructure/http/error-schemas.js';
import type { SecretSummary } from '../../infrastructure/secrets/secret-vault.js';
import type { OAuthSetup } from '../../platforms/social/oauth/oauth-config.js';
import { accessTokenName, oauthSource } from '../../platforms/social/oauth/oauth-tokens.js';
import { consistencyQuery, ensureReadPosition } from '../consistency.js';
import type { ReadPositions } from '../read-positions.js';
import { connectionsProjection } from './connections-projection.js';
import type { ConnectionRow, ConnectionsTable } from './connections-table.js';

export const connectionStatuses = ['connected', 'expiring', 'expired', 'needs_reconnect', 'not_connected'] as const;

const connectionView = z.object({
  platform: platformSchema,
  account: z.string().nullable(),
  status: z.enum(connectionStatuses).describe('expiring: a token that cannot be refreshed expires within 7 days; reconnect before then'),
  token_source: z.enum(['oauth', 'platforms.json']).nullable().describe('Where the token the connector uses came from; null: none'),
  oauth: z.object({
    available: z.boolean().describe('Whether POST /connections/{platform}/authorize can connect this platform'),
    problems: z.array(z.string()).describe('What platforms.json lacks for that'),
  }),
  scopes: z.array(z.string()),
  expires_at: z.string().nullable(),
  refreshable: z.boolean(),
  connected_at: z.string().nullable(),
  last_refreshed_at: z.string().nullable(),
  problem: z.object({ reason: z.string(), message: z.string().nullable(), since: z.string().nullable() }).nullable(),
});

export interface ConnectionQueryDependencies {
  db: SharedDatabase;
  positions: ReadPositions;
  /** The platforms with an entry in platforms.json. */
  configured: ReadonlySet<Platform>;
  /** Platforms whose entry holds an access_token of its own. */
  configuredTokens: ReadonlySet<Platform>;
  setups: Partial<Record<Platform, OAuthSetup>>;
  /** The vault's summaries (names and metadata, never values). */
  secrets: () => Promise<SecretSummary[]>;
  now?: () => Date;
}

/** GET /api/communication/connections: each platform's connection, from the read model and the vault's metadata. Never a token. */
export function registerConnectionQueryRoutes(app: FastifyInstance, deps: ConnectionQueryDependencies): void {
  const server = app.withTypeProvider<ZodTypeProvider>();
  const read = deps.db as Kysely<ConnectionsTable>;
  const now = deps.now ?? (() => new Date());

  server.get(
    '/api/communication/connections',
    {
      config: { scope: 'status:read' },
      schema: {
        tags: ['connections'],
        summary: 'Status of each platform connection: connected, expiring, expired, needs_reconnect or not_connected; expiry and scopes, never tokens',
        querystring: z.object(consistencyQuery),
        response: { 200: z.object({ connections: z.array(connectionView) }), ...errorResponses },
      },
    },
    async (request, reply) => {
      await ensureReadPosition(deps.positions, connectionsProjection.name, request, reply, request.query);
      const rows = new Map((await read.selectFrom('platform_connections').selectAll().execute()).map((row) => [row.platform, row]));
      const vaultTokens = new Map((await deps.secrets()).filter((s) => s.name.endsWith('/access_token')).map((s) => [s.name, s]));
      const platforms = publicationPlatforms.filter((platform) => deps.configured.has(platform) || rows.has(platform) || deps.setups[platform]);
      const at = now();
      return {
        connections: platforms.map((platform) => {
          const stored = vaultTokens.get(accessTokenName(platform));
          const source = stored?.metadata.source === oauthSource ? 'oauth' : stored || deps.configuredTokens.has(platform) ? 'platforms.json' : null;
          return viewOf(platform, rows.get(platform), source, deps.setups[platform], at);
        }),
      };
    },
  );
}

function viewOf(platform: Platform, row: ConnectionRow | undefined, source: 'oauth' | 'platforms.json' | null, setup: OAuthSetup | undefined, now: Date): z.infer<typeof connectionView> {
  const oauth = { available: setup?.client !== undefined, problems: setup?.problems ?? [] };
  const iso = (date: Date | null | undefined) => date?.toISOString() ?? null;
  const viaOauth = row?.via_oauth === true;
  return {
    platform,
    account: row?.account ?? null,
    status: statusOf(row, source, now),
    token_source: source,
    oauth,
    scopes: viaOauth ? row.scopes : [],
    expires_at: viaOauth ? iso(row.expires_at) : null,
    refreshable: viaOauth ? row.refreshable : false,
    connected_at: viaOauth ? iso(row.connected_at) : null,
    last_refreshed_at: viaOauth ? iso(row.refreshed_at) : null,
    problem: row?.problem_reason ? { reason: row.problem_reason, message: row.problem_message, since: iso(row.status_since) } : null,
  };
}

function statusOf(row: ConnectionRow | undefined, source: 'oauth' | 'platforms.json' | null, now: Date): (typeof connectionStatuses)[number] {
  if (row?.status === 'needs_reconnect') return 'needs_reconnect';
  if (row?.via_oauth) {
    const left = row.expires_at ? row.expires_at.getTime() - now.getTime() : Infinity;
    if (left <= 0) return 'expired';
    if (!row.refreshable && left <= expiryWarningMs) return 'expiring';
    return 'connected';
  }
  return source ? 'connected' : 'not_connected';
}
