import { describe, expect, it } from 'vitest';
import { fold } from '../../src/domain/decider.js';
import {
  platformConnectionDecider as decider,
  platformConnectionEvents,
  type PlatformConnectionCommand,
  type PlatformConnectionEvent,
} from '../../src/domain/platform-connection.js';
import { expectConformToCatalogue, given, run } from './given-when-then.js';

const now = '2026-03-01T10:00:00.000Z';
const later = '2026-03-01T12:00:00.000Z';
const platform = 'twitter' as const;
const account = 'me';

const connect: PlatformConnectionCommand = { type: 'RecordConnected', platform, account, scopes: ['tweet.write', 'offline.access'], expires_at: later, refreshable: true, now };
const connected: PlatformConnectionEvent = {
  type: 'PlatformConnected',
  data: { platform, account, scopes: ['tweet.write', 'offline.access'], expires_at: later, refreshable: true, connected_at: now },
};
const refused: PlatformConnectionCommand = { type: 'ReportRefreshRefused', platform, account, message: 'twitter: 400 invalid_request: Value passed for the token was invalid.', now: later };

describe('platform connection', () => {
  it('records a connection, with what was granted and no token', () => {
    given(decider).when(connect).then([connected]);
  });

  it('records a refresh, and a restore when the connection had been lost', () => {
    const refresh: PlatformConnectionCommand = { type: 'RecordTokenRefreshed', platform, account, scopes: ['tweet.write'], expires_at: '2026-03-01T14:00:00.000Z', now: later };
    given(decider, [connected])
      .when(refresh)
      .then([{ type: 'PlatformTokenRefreshed', data: { platform, account, scopes: ['tweet.write'], expires_at: '2026-03-01T14:00:00.000Z', refreshed_at: later } }]);
    const failed: PlatformConnectionEvent = { type: 'PlatformAuthorizationFailed', data: { platform, account, message: 'expired', publication_id: null, detected_at: now } };
    const events = given(decider, [connected, failed]).when(refresh).then([expect.objectContaining({ type: 'PlatformTokenRefreshed' }), { type: 'PlatformConnectionRestored', data: { platform, account, restored_at: later } }]);
    expect(fold(decider, [connected, failed, ...events]).status).toBe('connected');
  });

  it('marks needs reconnect once when the refresh token is refused, and stays so until someone reconnects', () => {
    const [lost] = given(decider, [connected])
      .when(refused)
      .then([{ type: 'PlatformConnectionNeedsReconnect', data: { platform, account, reason: 'refresh_refused', message: expect.stringContaining('invalid_request') as never, detected_at: later } }]);
    given(decider, [connected, lost!]).when(refused).then([]);
    // A post that went through on the last access token does not revive a dead refresh token.
    given(decider, [connected, lost!]).when({ type: 'ReportConnectionWorking', platform, account, now: later }).then([]);
    const state = fold(decider, [connected, lost!]);
    expect(state).toMatchObject({ status: 'needs_reconnect', oauth: { refresh_refused: true } });
    expect(fold(decider, [connected, lost!, connected])).toMatchObject({ status: 'connected', oauth: { refresh_refused: false } });
  });

  it('warns once per expiry of a token that cannot be refreshed, then marks it expired once', () => {
    const facebook = { platform: 'facebook' as const, account: '104857600' };
    const meta: PlatformConnectionEvent = { type: 'PlatformConnected', data: { ...facebook, scopes: ['pages_manage_posts'], expires_at: '2026-03-06T10:00:00.000Z', refreshable: false, connected_at: now } };
    const expiring: PlatformConnectionCommand = { type: 'ReportTokenExpiring', ...facebook, expires_at: '2026-03-06T10:00:00.000Z', now };
    const [warning] = given(decider, [meta])
      .when(expiring)
      .then([{ type: 'PlatformTokenExpiring', data: { ...facebook, expires_at: '2026-03-06T10:00:00.000Z', days_left: 5, warned_at: now } }]);
    given(decider, [meta, warning!]).when(expiring).then([]);
    // A reconnection brings a new expiry, warned about in its turn.
    given(decider, [meta, warning!, { ...meta, data: { ...meta.data, expires_at: '2026-05-01T10:00:00.000Z' } }])
      .when({ ...expiring, expires_at: '2026-05-01T10:00:00.000Z' } as PlatformConnectionCommand)
      .then([expect.objectContaining({ type: 'PlatformTokenExpiring' })]);

    const expired: PlatformConnectionCommand = { type: 'ReportTokenExpired', ...facebook, now: '2026-03-06T10:00:01.000Z' };
    const [lost] = given(decider, [meta, warning!]).when(expired).then([expect.objectContaining({ type: 'PlatformConnectionNeedsReconnect' })]);
    expect(lost!.data).toMatchObject({ reason: 'token_expired' });
    given(decider, [meta, warning!, lost!]).when(expired).then([]);
  });

  it('keeps alerting once per loss for publishing failures, as before', () => {
    const failure: PlatformConnectionCommand = { type: 'ReportAuthorizationFailure', platform, account, message: 'Invalid token', publication_id: null, now };
    const [failed] = given(decider).when(failure).then([expect.objectContaining({ type: 'PlatformAuthorizationFailed' })]);
    given(decider, [failed!]).when(failure).then([]);
    given(decider, [failed!]).when({ type: 'ReportConnectionWorking', platform, account, now }).then([expect.objectContaining({ type: 'PlatformConnectionRestored' })]);
  });

  it('emits only catalogue events, canonical and plain JSON', () => {
    const events = run(decider, [
      connect,
      { type: 'RecordTokenRefreshed', platform, account, scopes: [], expires_at: null, now },
      refused,
      { type: 'ReportTokenExpiring', platform, account, expires_at: later, now },
      connect,
      { type: 'ReportTokenExpired', platform, account, now },
      { type: 'ReportAuthorizationFailure', platform, account, message: 'x', publication_id: null, now },
    ]);
    expect(events.map((e) => e.type)).toEqual(['PlatformConnected', 'PlatformTokenRefreshed', 'PlatformConnectionNeedsReconnect', 'PlatformTokenExpiring', 'PlatformConnected', 'PlatformConnectionNeedsReconnect']);
    expectConformToCatalogue(platformConnectionEvents, events);
    for (const definition of [platformConnectionEvents.PlatformConnected, platformConnectionEvents.PlatformTokenRefreshed, platformConnectionEvents.PlatformConnectionNeedsReconnect, platformConnectionEvents.PlatformTokenExpiring]) {
      expect(definition.version).toBe(1);
    }
  });
});
