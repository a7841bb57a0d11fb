import type { Logger } from '../logging/logger.js';
import type { ExternalService, HeartbeatResult, ServiceHealthBoard } from './service-health-board.js';
import type { ServiceRef } from './service-health-recorder.js';

export interface HeartbeatOptions {
  /** Between two rounds of checks. Default 60 s. */
  intervalMs?: number;
  /** A check still unanswered after this long counts as failed. Default 10 s. */
  timeoutMs?: number;
}

/** Where crossings go; resolves false when they could not be recorded (tried again at the next round). */
export interface HealthCrossings {
  checked(service: ServiceRef, result: { ok: boolean; errorClass: string | null; message: string | null; at: Date }): Promise<boolean>;
}

/**
 * Every interval, one cheap authenticated call to each configured platform and provider that offers one. Results go
 * to the board (status, metrics); a change between answering and failing goes to the recorder, which appends the
 * alert once per crossing. The first result after start-up is passed on too, so that an outage that began while the
 * service was down is alerted, and one that ended is closed.
 */
export class Heartbeat {
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  private stopped = false;
  /** Per service, the last result the recorder accepted. */
  private readonly recorded = new Map<string, boolean>();
  private readonly intervalMs: number;
  private readonly timeoutMs: number;

  constructor(
    private readonly board: ServiceHealthBoard,
    private readonly crossings: HealthCrossings,
    private readonly logger: Logger,
    options: HeartbeatOptions = {},
  ) {
    this.intervalMs = options.intervalMs ?? 60_000;
    this.timeoutMs = options.timeoutMs ?? 10_000;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.stopped = false;
    this.schedule(0);
  }

  /**
   * Stops the timer. A round under way is not waited for (a check may take up to the timeout, longer than a shutdown
   * should): its results are dropped, so a connector shut down meanwhile is not reported as failing.
   */
  stop(): void {
    this.running = false;
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** One round: checks every checkable service at once. */
  async runOnce(): Promise<void> {
    await Promise.all(this.board.services.filter((service) => service.check).map((service) => this.checkOne(service)));
  }

  private schedule(delayMs: number): void {
    if (!this.running) return;
    this.timer = setTimeout(() => {
      void this.runOnce()
        .catch((error: unknown) => this.logger.error({ err: error }, 'heartbeat round failed'))
        .finally(() => this.schedule(this.intervalMs));
    }, delayMs);
    this.timer.unref();
  }

  private async checkOne(service: ExternalService): Promise<void> {
    const result = await this.probe(service);
    if (this.stopped) return;
    this.board.recordHeartbeat(service.name, result);
    const previous = this.recorded.get(service.name);
    if (previous === result.ok) return;
    if (previous !== undefined || !result.ok) {
      const fields = { service: service.name, kind: service.kind, error_class: result.errorClass };
      if (result.ok) this.logger.info(fields, 'external service answers again');
      else this.logger.warn({ ...fields, reason: result.message }, 'external service check failed');
    }
    const accepted = await this.crossings.checked(service, { ok: result.ok, errorClass: result.errorClass, message: result.message, at: result.checkedAt });
    if (accepted) this.recorded.set(service.name, result.ok);
  }

  private async probe(service: ExternalService): Promise<HeartbeatResult> {
    const started = performance.now();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new CheckTimeout(this.timeoutMs)), this.timeoutMs);
    });
    try {
      await Promise.race([service.check!(), timeout]);
      return { checkedAt: new Date(), ok: true, latencyMs: elapsed(started), errorClass: null, message: null };
    } catch (error) {
      return { checkedAt: new Date(), ok: false, latencyMs: elapsed(started), errorClass: errorClassOf(error), message: messageOf(error) };
    } finally {
      clearTimeout(timer);
    }
  }
}

class CheckTimeout extends Error {
  readonly errorClass = 'timeout';
  constructor(ms: number) {
    super(`no answer within ${ms} ms`);
  }
}

/** ProviderError and PlatformError both carry errorClass; anything else is unexpected. */
function errorClassOf(error: unknown): string {
  const errorClass = (error as { errorClass?: unknown } | null)?.errorClass;
  return typeof errorClass === 'string' ? errorClass : 'unexpected';
}

function messageOf(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).slice(0, 500);
}

function elapsed(started: number): number {
  return Math.round((performance.now() - started) * 10) / 10;
}
