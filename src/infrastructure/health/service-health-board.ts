import type { CircuitState, ExternalServiceKind } from '../../domain/service-health.js';

/** A platform or provider connection this process uses. */
export interface ExternalService {
  /** The provider or platform name (sendgrid, twilio, facebook...). */
  name: string;
  kind: ExternalServiceKind;
  /** The platform account (page id, organisation...) for platforms; null for providers. */
  account: string | null;
  /** The breaker's state in this process, read when asked. */
  breaker(): CircuitState;
  /** A cheap authenticated call; absent when the service offers none (the heartbeat then skips it). */
  check?: () => Promise<void>;
}

export interface HeartbeatResult {
  checkedAt: Date;
  ok: boolean;
  latencyMs: number;
  /** The connector's error class, 'timeout' or 'unexpected'; null when ok. */
  errorClass: string | null;
  message: string | null;
}

export interface ServiceSnapshot {
  name: string;
  kind: ExternalServiceKind;
  account: string | null;
  breaker: CircuitState;
  checkable: boolean;
  /** null until this process has checked it (no heartbeat here, or not yet). */
  heartbeat: HeartbeatResult | null;
  /** When the access token expires, once the token vault says. */
  tokenExpiresAt: Date | null;
}

/**
 * What this process knows of each external connection right now: the breaker, the last heartbeat, the token's
 * expiry. The status route and the metrics read it; the heartbeat and the token vault write to it.
 */
export class ServiceHealthBoard {
  private readonly heartbeats = new Map<string, HeartbeatResult>();
  private readonly tokenExpiries = new Map<string, Date | null>();

  constructor(readonly services: readonly ExternalService[]) {}

  recordHeartbeat(name: string, result: HeartbeatResult): void {
    this.heartbeats.set(name, result);
  }

  /** For the token vault: when the service's access token expires (null: it does not, or it is unknown). */
  setTokenExpiry(name: string, expiresAt: Date | null): void {
    this.tokenExpiries.set(name, expiresAt);
  }

  snapshot(): ServiceSnapshot[] {
    return this.services.map((service) => ({
      name: service.name,
      kind: service.kind,
      account: service.account,
      breaker: service.breaker(),
      checkable: service.check !== undefined,
      heartbeat: this.heartbeats.get(service.name) ?? null,
      tokenExpiresAt: this.tokenExpiries.get(service.name) ?? null,
    }));
  }
}
