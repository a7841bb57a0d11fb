import { z } from 'zod';
import type { Decider } from './decider.js';
import { defineEvent, type EventCatalogue } from './event-schema.js';
import { platformSchema, type Platform } from './publication-events.js';

/**
 * A platform account's connection: connected, or needing someone to reconnect it because the platform refused our
 * token (when publishing, or when we asked for a fresh one). Each alert is one event per loss, not one per refused
 * post or refresh round: posts keep waiting (and retrying) until the connection works again.
 *
 * Accounts connected through OAuth 2.0 (the admin routes) also record the grant: its scopes, when the access token
 * expires, and whether it can be refreshed. Token values are never in these events: they live in the token vault.
 */

export function connectionStreamId(platform: Platform): string {
  return `connection-${platform}`;
}

const timestamp = z.iso.datetime({ offset: true });
const account = z.string().min(1).max(200);
const scopes = z.array(z.string().min(1).max(200)).max(50);

export const PlatformAuthorizationFailed = defineEvent(
  'PlatformAuthorizationFailed',
  1,
  z.object({
    platform: platformSchema,
    account,
    /** The platform's message (never the token). */
    message: z.string().max(2_000),
    publication_id: z.uuid().nullable(),
    detected_at: timestamp,
  }),
);
export const PlatformConnectionRestored = defineEvent(
  'PlatformConnectionRestored',
  1,
  z.object({ platform: platformSchema, account, restored_at: timestamp }),
);
/** An administrator connected (or reconnected) the account through the platform's OAuth 2.0 consent screen. */
export const PlatformConnected = defineEvent(
  'PlatformConnected',
  1,
  z.object({
    platform: platformSchema,
    account,
    /** What the platform granted (or, when it does not say, what we asked for). */
    scopes,
    /** When the access token stops working; null when the platform gave no lifetime. */
    expires_at: timestamp.nullable(),
    /** Whether a refresh token came with it: without one (Facebook, Instagram) the account is reconnected by hand. */
    refreshable: z.boolean(),
    connected_at: timestamp,
  }),
);
export const PlatformTokenRefreshed = defineEvent(
  'PlatformTokenRefreshed',
  1,
  z.object({ platform: platformSchema, account, scopes, expires_at: timestamp.nullable(), refreshed_at: timestamp }),
);
export const connectionLossReasons = ['refresh_refused', 'token_expired'] as const;
/** The grant is gone: the platform refused our refresh token (invalid_grant), or a token that cannot be refreshed expired. */
export const PlatformConnectionNeedsReconnect = defineEvent(
  'PlatformConnectionNeedsReconnect',
  1,
  z.object({
    platform: platformSchema,
    account,
    reason: z.enum(connectionLossReasons),
    /** The platform's error code and description (never a token). */
    message: z.string().max(2_000),
    detected_at: timestamp,
  }),
);
/** A token that cannot be refreshed expires soon: someone should reconnect the account before it does. */
export const PlatformTokenExpiring = defineEvent(
  'PlatformTokenExpiring',
  1,
  z.object({ platform: platformSchema, account, expires_at: timestamp, days_left: z.number().int().min(0), warned_at: timestamp }),
);

export const platformConnectionEvents = {
  PlatformAuthorizationFailed,
  PlatformConnectionRestored,
  PlatformConnected,
  PlatformTokenRefreshed,
  PlatformConnectionNeedsReconnect,
  PlatformTokenExpiring,
} satisfies EventCatalogue;

type EventOf<D> = D extends { type: infer T; schema: infer S extends z.ZodType } ? { type: T; data: z.infer<S> } : never;
export type PlatformConnectionEvent = EventOf<(typeof platformConnectionEvents)[keyof typeof platformConnectionEvents]>;

interface Grant {
  scopes: string[];
  expires_at: string | null;
}

export type PlatformConnectionCommand =
  | { type: 'ReportAuthorizationFailure'; platform: Platform; account: string; message: string; publication_id: string | null; now: string }
  | { type: 'ReportConnectionWorking'; platform: Platform; account: string; now: string }
  | ({ type: 'RecordConnected'; platform: Platform; account: string; refreshable: boolean; now: string } & Grant)
  | ({ type: 'RecordTokenRefreshed'; platform: Platform; account: string; now: string } & Grant)
  | { type: 'ReportRefreshRefused'; platform: Platform; account: string; message: string; now: string }
  | { type: 'ReportTokenExpired'; platform: Platform; account: string; now: string }
  | { type: 'ReportTokenExpiring'; platform: Platform; account: string; expires_at: string; now: string };

/** What the connection stream knows of an OAuth grant. */
export interface OAuthGrantState extends Grant {
  account: string;
  refreshable: boolean;
  /** The platform refused the refresh token: refreshing again is pointless until someone reconnects. */
  refresh_refused: boolean;
  /** The expiry a warning was raised for: one warning per token. */
  expiry_warned_for: string | null;
}

export interface PlatformConnectionState {
  status: 'connected' | 'needs_reconnect';
  since: string | null;
  /** null while the account's token comes from platforms.json (no OAuth connection recorded). */
  oauth: OAuthGrantState | null;
}

const dayMs = 86_400_000;
const maxMessageLength = 2_000;

/** A token that cannot be refreshed is announced as expiring this long before it expires. */
export const expiryWarningMs = 7 * dayMs;

export const platformConnectionDecider: Decider<PlatformConnectionCommand, PlatformConnectionEvent, PlatformConnectionState> = {
  initialState: () => ({ status: 'connected', since: null, oauth: null }),
  decide(command, state) {
    const { platform, account } = command;
    switch (command.type) {
      case 'ReportAuthorizationFailure': {
        if (state.status === 'needs_reconnect') return [];
        const { message, publication_id } = command;
        return [{ type: 'PlatformAuthorizationFailed', data: { platform, account, message: message.slice(0, maxMessageLength), publication_id, detected_at: command.now } }];
      }
      case 'ReportConnectionWorking':
        // A dead refresh token is not revived by a post that went through on the last access token it gave.
        if (state.status === 'connected' || state.oauth?.refresh_refused) return [];
        return [{ type: 'PlatformConnectionRestored', data: { platform, account, restored_at: command.now } }];
      case 'RecordConnected':
        return [{ type: 'PlatformConnected', data: { platform, account, scopes: command.scopes, expires_at: command.expires_at, refreshable: command.refreshable, connected_at: command.now } }];
      case 'RecordTokenRefreshed': {
        const refreshed: PlatformConnectionEvent = { type: 'PlatformTokenRefreshed', data: { platform, account, scopes: command.scopes, expires_at: command.expires_at, refreshed_at: command.now } };
        if (state.status === 'connected') return [refreshed];
        return [refreshed, { type: 'PlatformConnectionRestored', data: { platform, account, restored_at: command.now } }];
      }
      case 'ReportRefreshRefused':
        if (state.oauth?.refresh_refused) return [];
        return [{ type: 'PlatformConnectionNeedsReconnect', data: { platform, account, reason: 'refresh_refused', message: command.message.slice(0, maxMessageLength), detected_at: command.now } }];
      case 'ReportTokenExpired':
        if (state.status === 'needs_reconnect') return [];
        return [
          {
            type: 'PlatformConnectionNeedsReconnect',
            data: { platform, account, reason: 'token_expired', message: `${platform}: the access token expired and cannot be refreshed`, detected_at: command.now },
          },
        ];
      case 'ReportTokenExpiring': {
        if (state.oauth?.expiry_warned_for === command.expires_at) return [];
        const daysLeft = Math.max(0, Math.floor((Date.parse(command.expires_at) - Date.parse(command.now)) / dayMs));
        return [{ type: 'PlatformTokenExpiring', data: { platform, account, expires_at: command.expires_at, days_left: daysLeft, warned_at: command.now } }];
      }
    }
  },
  evolve(state, event) {
    switch (event.type) {
      case 'PlatformAuthorizationFailed':
        return { ...state, status: 'needs_reconnect', since: event.data.detected_at };
      case 'PlatformConnectionRestored':
        return { ...state, status: 'connected', since: event.data.restored_at };
      case 'PlatformConnected': {
        const { account, scopes, expires_at, refreshable, connected_at } = event.data;
        return { status: 'connected', since: connected_at, oauth: { account, scopes, expires_at, refreshable, refresh_refused: false, expiry_warned_for: null } };
      }
      case 'PlatformTokenRefreshed': {
        const { account, scopes, expires_at } = event.data;
        const grant = state.oauth ?? { account, refreshable: true, refresh_refused: false, expiry_warned_for: null, scopes, expires_at };
        return { ...state, oauth: { ...grant, account, scopes, expires_at } };
      }
      case 'PlatformConnectionNeedsReconnect': {
        const refused = event.data.reason === 'refresh_refused';
        const oauth = state.oauth && { ...state.oauth, refresh_refused: state.oauth.refresh_refused || refused };
        return { status: 'needs_reconnect', since: event.data.detected_at, oauth };
      }
      case 'PlatformTokenExpiring':
        return { ...state, oauth: state.oauth && { ...state.oauth, expiry_warned_for: event.data.expires_at } };
    }
  },
};
