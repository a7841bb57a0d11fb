import { CommandHandler } from '../../commands/command-handler.js';
import {
  conversionDecider,
  conversionEvents,
  conversionStreamId,
  type ConversionCommand,
  type ConversionEvent,
  type ConversionState,
} from '../../domain/conversion.js';
import type { BusMessage, Consumer, MessageBus } from '../../infrastructure/bus/message-bus.js';
import type { EventStore } from '../../infrastructure/event-store/event-store.js';
import type { Logger } from '../../infrastructure/logging/logger.js';
import { attributeConversion } from './conversion-attribution.js';
import { conversionRecordedSchema, conversionsSubject } from './conversion-recorded.js';

export interface ConversionConsumerOptions {
  /** The durable consumer's name on the central server's stream (COMM_CENTRAL_DURABLE). */
  durable: string;
  now?: () => Date;
}

/**
 * Reads ConversionRecorded from the central server (central.conversions.recorded, a durable consumer with explicit
 * acks) and records what it can attribute as ConversionAttributed. At-least-once: the event ids derive from the
 * message id, and a conversion is attributed once (the first attribution stands), so a redelivery or a second message
 * about the same conversion adds nothing. A message that breaks the contract is dead-lettered: retrying cannot fix it.
 */
export class ConversionConsumer {
  private readonly conversions: CommandHandler<ConversionCommand, ConversionEvent, ConversionState>;
  private readonly now: () => Date;
  private consumer: Consumer | null = null;

  constructor(
    private readonly bus: MessageBus,
    private readonly store: EventStore,
    private readonly logger: Logger,
    private readonly options: ConversionConsumerOptions,
  ) {
    this.conversions = new CommandHandler(store, conversionDecider, conversionEvents);
    this.now = options.now ?? (() => new Date());
  }

  async start(): Promise<void> {
    if (this.consumer) return;
    this.consumer = await this.bus.consume<unknown>(
      {
        durable: this.options.durable,
        subjects: [`${this.bus.subjectPrefix}.${conversionsSubject}`],
        maxDeliver: 10,
        backoffMs: [1_000, 5_000, 30_000, 120_000],
        concurrency: 1,
      },
      (message) => this.handle(message),
    );
  }

  async stop(): Promise<void> {
    await this.consumer?.stop();
    this.consumer = null;
  }

  async handle(message: BusMessage<unknown>): Promise<void> {
    const parsed = conversionRecordedSchema.safeParse(message.data);
    if (!parsed.success) {
      const fields = parsed.error.issues.map((i) => i.path.join('.') || '(body)').join(', ');
      this.logger.warn({ subject: message.subject, msg_id: message.id, fields }, 'ConversionRecorded does not follow the contract: dead-lettered');
      await message.deadLetter(`Not a ConversionRecorded of the contract (docs/asyncapi.yaml): ${fields}`);
      return;
    }
    const recorded = parsed.data;
    const now = this.now();
    const attribution = await attributeConversion(this.store, recorded, now);
    if (!attribution) {
      this.logger.info({ conversion_id: recorded.data.conversion_id, central_event_id: recorded.id }, 'conversion names nothing this module sent; not attributed');
      return;
    }
    await this.conversions.handle(
      conversionStreamId(attribution.conversion_id),
      { type: 'AttributeConversion', attribution },
      { correlationId: recorded.correlation_id ?? recorded.id, causationId: recorded.id, actor: 'central-server', now },
      { eventIdSeed: `central:${recorded.id}` },
    );
  }
}
