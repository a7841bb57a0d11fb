import { CommandHandler, type CommandContext } from '../../commands/command-handler.js';
import { consentDecider, consentEvents, consentStreamId, type ConsentCommand, type ConsentEvent, type ConsentState } from '../../domain/consent.js';
import { isDomainError } from '../../domain/domain-error.js';
import type { BusMessage, Consumer, MessageBus } from '../../infrastructure/bus/message-bus.js';
import type { EventStore } from '../../infrastructure/event-store/event-store.js';
import type { Logger } from '../../infrastructure/logging/logger.js';
import type { AudienceWriter } from '../../projections/audience/audience-writer.js';
import { crmEventSchema, type CrmEvent, type CrmEventOf } from './crm-events.js';

/** The source recorded with consents and erasures that came from the CRM. */
export const CRM_SOURCE = 'crm';

export interface CrmConsumerOptions {
  /** The durable consumer's name on the CRM's stream (docs/asyncapi.yaml: "communication"). */
  durable: string;
}

/**
 * Consumes the CRM's events (docs/asyncapi.yaml, inbound channels) through one durable consumer, one message at a
 * time so that a customer's events apply in the order the CRM published them:
 *
 * - customers.created / updated → the audience read model (addresses, names, language);
 * - customers.deleted → the customer's personal data leaves the audience read model; for an erasure request
 *   (GDPR) each address is also erased in its consent stream (RecipientErased: the hash only), which blocks every
 *   later message to it, whoever asks for one;
 * - consents.changed → RecordConsent on the recipient's consent stream, source "crm" (a granted consent does not lift a
 *   suppression recorded here, nor an erasure);
 * - segments.membership_changed → the segment and its members.
 *
 * De-duplication on the event id: the crm_inbox row is written with the read-model change; commands on consent
 * streams derive their event ids from the CRM event id, so a redelivery appends nothing twice. A message that does not
 * follow the contract is dead-lettered (a retry cannot fix it).
 */
export class CrmConsumer {
  private consumer: Consumer | null = null;
  private readonly consents: CommandHandler<ConsentCommand, ConsentEvent, ConsentState>;

  constructor(
    private readonly bus: MessageBus,
    store: EventStore,
    private readonly audience: AudienceWriter,
    private readonly logger: Logger,
    private readonly options: CrmConsumerOptions,
  ) {
    this.consents = new CommandHandler(store, consentDecider, consentEvents);
  }

  async start(): Promise<void> {
    if (this.consumer) return;
    this.consumer = await this.bus.consume<unknown>(
      {
        durable: this.options.durable,
        // <prefix>.<entity>.<event>, not <prefix>.>: the dead letters (<prefix>.dead.<subject>) must not come back here.
        // One filter, which NATS servers before 2.10 require.
        subjects: [`${this.bus.subjectPrefix}.*.*`],
        maxDeliver: 10,
        backoffMs: [1_000, 5_000, 30_000, 120_000],
        concurrency: 1,
        // Several worker processes share the durable: still one message at a time, in the CRM's order.
        ordered: true,
      },
      (message) => this.handle(message),
    );
  }

  async stop(): Promise<void> {
    await this.consumer?.stop();
    this.consumer = null;
  }

  async handle(message: BusMessage<unknown>): Promise<void> {
    const parsed = crmEventSchema.safeParse(message.data);
    if (!parsed.success) {
      const fields = parsed.error.issues.map((i) => i.path.join('.') || '(body)').join(', ');
      this.logger.warn({ subject: message.subject, msg_id: message.id, fields }, 'CRM event does not follow the contract: dead-lettered');
      await message.deadLetter(`Not a CRM event of the contract (docs/asyncapi.yaml): ${fields}`);
      return;
    }
    const event = parsed.data;
    if (await this.audience.seen(event.id)) return;
    const context: CommandContext = {
      correlationId: event.correlation_id ?? event.id,
      causationId: event.id,
      actor: 'crm',
      now: new Date(),
    };
    await this.apply(event, context);
  }

  private async apply(event: CrmEvent, context: CommandContext): Promise<void> {
    switch (event.type) {
      case 'CustomerCreated':
      case 'CustomerUpdated':
        return this.audience.upsertCustomer(event, event.data);
      case 'CustomerDeleted':
        return this.deleteCustomer(event, context);
      case 'ConsentChanged':
        return this.recordConsent(event, context);
      case 'SegmentMembershipChanged':
        return this.audience.changeSegment(event, event.data);
    }
  }

  private async deleteCustomer(event: CrmEventOf<'CustomerDeleted'>, context: CommandContext): Promise<void> {
    // A merge moves the addresses to another customer (the CRM sends it updated): only an erasure request blocks them.
    if (event.data.reason === 'erasure_request') {
      const addresses = await this.audience.addressesOf(event.data.customer_id);
      const targets = [
        ...(addresses?.email ? [{ recipient: addresses.email, channel: 'email' as const }] : []),
        ...(addresses?.phone ? [{ recipient: addresses.phone, channel: 'sms' as const }] : []),
      ];
      for (const { recipient, channel } of targets) {
        await this.consents.handle(
          consentStreamId(recipient, channel),
          { type: 'EraseRecipient', recipient, channel, source: CRM_SOURCE, now: event.occurred_at },
          context,
          { eventIdSeed: `crm:${event.id}:${channel}` },
        );
      }
    }
    await this.audience.eraseCustomer(event, event.data.customer_id);
  }

  private async recordConsent(event: CrmEventOf<'ConsentChanged'>, context: CommandContext): Promise<void> {
    const { recipient, channel, status } = event.data;
    try {
      await this.consents.handle(
        consentStreamId(recipient, channel),
        { type: 'RecordConsent', recipient, channel, granted: status === 'granted', source: CRM_SOURCE, now: event.data.at },
        context,
        { eventIdSeed: `crm:${event.id}` },
      );
    } catch (error) {
      if (!isDomainError(error)) throw error;
      // An erased address, a malformed one: no retry changes that. The code says which, never the address.
      this.logger.warn({ crm_event_id: event.id, customer_id: event.data.customer_id, channel, code: error.code }, 'CRM consent not recorded');
    }
    await this.audience.markSeen(event);
  }
}
