import { z } from 'zod';
import type { Decider } from './decider.js';
import { defineEvent, type EventCatalogue } from './event-schema.js';
import { platformSchema, type Platform } from './publication-events.js';

/**
 * A platform account's connection as the publishing worker sees it: connected, or needing someone to reconnect it
 * because the platform refused our token. The alert is one event per loss, not one per refused post: posts keep
 * waiting (and retrying) until the connection works again, which PlatformConnectionRestored records.
 */

export function connectionStreamId(platform: Platform): string {
  return `connection-${platform}`;
}

const timestamp = z.iso.datetime({ offset: true });

export const PlatformAuthorizationFailed = defineEvent(
  'PlatformAuthorizationFailed',
  1,
  z.object({
    platform: platformSchema,
    account: z.string().min(1).max(200),
    /** The platform's message (never the token). */
    message: z.string().max(2_000),
    publication_id: z.uuid().nullable(),
    detected_at: timestamp,
  }),
);
export const PlatformConnectionRestored = defineEvent(
  'PlatformConnectionRestored',
  1,
  z.object({ platform: platformSchema, account: z.string().min(1).max(200), restored_at: timestamp }),
);

export const platformConnectionEvents = { PlatformAuthorizationFailed, PlatformConnectionRestored } satisfies EventCatalogue;

type EventOf<D> = D extends { type: infer T; schema: infer S extends z.ZodType } ? { type: T; data: z.infer<S> } : never;
export type PlatformConnectionEvent = EventOf<(typeof platformConnectionEvents)[keyof typeof platformConnectionEvents]>;

export type PlatformConnectionCommand =
  | { type: 'ReportAuthorizationFailure'; platform: Platform; account: string; message: string; publication_id: string | null; now: string }
  | { type: 'ReportConnectionWorking'; platform: Platform; account: string; now: string };

export interface PlatformConnectionState {
  status: 'connected' | 'needs_reconnect';
  since: string | null;
}

export const platformConnectionDecider: Decider<PlatformConnectionCommand, PlatformConnectionEvent, PlatformConnectionState> = {
  initialState: () => ({ status: 'connected', since: null }),
  decide(command, state) {
    if (command.type === 'ReportAuthorizationFailure') {
      if (state.status === 'needs_reconnect') return [];
      const { platform, account, message, publication_id } = command;
      return [{ type: 'PlatformAuthorizationFailed', data: { platform, account, message: message.slice(0, 2_000), publication_id, detected_at: command.now } }];
    }
    if (state.status === 'connected') return [];
    return [{ type: 'PlatformConnectionRestored', data: { platform: command.platform, account: command.account, restored_at: command.now } }];
  },
  evolve(_state, event) {
    return event.type === 'PlatformAuthorizationFailed'
      ? { status: 'needs_reconnect', since: event.data.detected_at }
      : { status: 'connected', since: event.data.restored_at };
  },
};
