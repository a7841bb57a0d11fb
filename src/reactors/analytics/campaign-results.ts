import type { NamedBus } from '../../infrastructure/bus/create-bus.js';
import type { NotificationsConfig } from '../../infrastructure/config/config-files.js';
import type { Env } from '../../infrastructure/config/env.js';
import type { SharedDatabase } from '../../infrastructure/database/kysely.js';
import type { EventStore } from '../../infrastructure/event-store/event-store.js';
import type { Logger } from '../../infrastructure/logging/logger.js';
import { openCentralBus } from '../../integration/conversions/central-bus.js';
import { ConversionConsumer } from '../../integration/conversions/conversion-consumer.js';
import type { NotificationProvider } from '../../platforms/notifications/provider.js';
import type { FollowerLeases } from '../../projections/follower-lease.js';
import { Reactor, type ReactorDefinition } from '../reactor.js';
import { pricingFromConfig } from '../spend/provider-pricing.js';
import { SpendPriceLookups } from '../spend/spend-price-lookups.js';
import { SpendPricePoller, type SpendPricePollerOptions } from '../spend/spend-price-poller.js';
import { spendRecorder } from '../spend/spend-recorder.js';
import { SpendRecords } from '../spend/spend-records.js';
import { CampaignPerformanceMonitor, type CampaignPerformanceMonitorOptions } from './campaign-performance-monitor.js';

export interface CampaignResultsDeps {
  env: Pick<Env, 'NATS_URL' | 'COMM_CENTRAL_STREAM' | 'COMM_CENTRAL_SUBJECT_PREFIX' | 'COMM_CENTRAL_DURABLE'>;
  store: EventStore;
  db: SharedDatabase;
  logger: Logger;
  /** The configured notification providers (those that report prices are asked). */
  providers: NotificationProvider[];
  notifications: NotificationsConfig;
  leases?: FollowerLeases;
  /** Tuning (tests). */
  monitor?: CampaignPerformanceMonitorOptions;
  pricePoller?: SpendPricePollerOptions;
  firstPriceLookupDelayMs?: number;
}

/**
 * What a worker process runs for campaign results besides the analytics projection: the spend recorder (a reactor)
 * and the price poller, the performance monitor (alerts on targets and budget), and the consumer of the central
 * server's conversions.
 */
export class CampaignResults {
  readonly spendReactor: Reactor;
  readonly pricePoller: SpendPricePoller;
  readonly monitor: CampaignPerformanceMonitor;

  private constructor(
    deps: CampaignResultsDeps,
    /** The central server's events (in-process without NATS: tests publish to it). */
    readonly centralBus: NamedBus,
    readonly conversions: ConversionConsumer,
  ) {
    const { store, db, logger } = deps;
    const pricing = pricingFromConfig(deps.notifications);
    const providers = new Map(deps.providers.map((provider) => [provider.name, provider]));
    const reporting = new Set(deps.providers.filter((provider) => provider.lookUpPrice).map((provider) => provider.name));
    const lookups = new SpendPriceLookups(db);
    const records = new SpendRecords(store);
    // Batches of up to 1,000: in a burst of notifications, batches of 200 left it behind the shared end of the log (a
    // checkpoint per batch, on a busy worker), to read the log on its own; spend waits for nobody.
    this.spendReactor = new Reactor(store, db, spendRecorder({ store, records, lookups, pricing, reporting, firstLookupDelayMs: deps.firstPriceLookupDelayMs }), logger, {
      batchSize: 1000,
      concurrency: 8,
      leases: deps.leases,
    });
    this.pricePoller = new SpendPricePoller(lookups, records, providers, pricing, logger, deps.pricePoller);
    this.monitor = new CampaignPerformanceMonitor(store, db, logger, deps.monitor);
  }

  static async open(deps: CampaignResultsDeps): Promise<CampaignResults> {
    const centralBus = await openCentralBus(deps.env, deps.logger);
    return new CampaignResults(deps, centralBus, new ConversionConsumer(centralBus, deps.store, deps.logger, { durable: deps.env.COMM_CENTRAL_DURABLE }));
  }

  /** The reactor is started with the app's other reactors. */
  async start(): Promise<void> {
    this.pricePoller.start();
    this.monitor.start();
    await this.conversions.start();
  }

  async stop(): Promise<void> {
    await Promise.all([this.pricePoller.stop(), this.monitor.stop(), this.conversions.stop()]);
  }

  close(): Promise<void> {
    return this.centralBus.close();
  }
}

/** The reactors above as a process that does not run them lists them (status route). */
export function campaignResultsReactors(store: EventStore, db: SharedDatabase): ReactorDefinition[] {
  return [spendRecorder({ store, records: new SpendRecords(store), lookups: new SpendPriceLookups(db), pricing: new Map(), reporting: new Set() })];
}
