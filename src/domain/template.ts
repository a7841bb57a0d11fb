import { z } from 'zod';
import { checkTemplateSource } from '../platforms/notifications/templates/engine.js';
import type { Decider } from './decider.js';
import { DomainError } from './domain-error.js';
import { defineEvent, type EventCatalogue } from './event-schema.js';
import type { NotificationChannel } from './notification-events.js';

/**
 * Template: a notification template (e-mail, SMS, push) in the specification's format, published in versions.
 *
 * - The id is a slug ([a-z0-9_-]); the same id as a file template in COMM_CONFIG_DIR/templates overrides it: the file
 *   is the read-only "version 0", the versions published through the API are 1, 2, 3…
 * - Versions are immutable: publishing gives a new version (1-based); publishing exactly the latest content again
 *   records nothing (PUT is idempotent).
 * - The kind, marketing or transactional, decides the consent rules when sending; it is set by the first version and
 *   never changes (turning a promotion into a "transactional" message would skip consent).
 * - The channels a template supports follow from its content: email (subject + body_html or body_text), sms, push.
 * - Every Handlebars source must compile (a pure check, no I/O); a marketing SMS must carry a STOP mention (French
 *   opt-out rule for commercial SMS).
 * - Archiving stops the template from being used without a version number; publishing a new version restores it.
 */

export const templateIdSchema = z
  .string()
  .regex(/^[a-z0-9_-]{1,100}$/, 'template ids are 1 to 100 lower-case letters, digits, _ and -');

export const templateKinds = ['marketing', 'transactional'] as const;
export type TemplateKind = (typeof templateKinds)[number];

export const templateStatuses = ['active', 'archived'] as const;
export type TemplateStatus = (typeof templateStatuses)[number];

const text = (max: number) => z.string().min(1, 'must not be empty').max(max);

/** The content of one version: the spec's template fields, plus sample data for previews. */
export const templateContentSchema = z.object({
  subject: text(500).nullable(),
  body_html: text(200_000).nullable(),
  body_text: text(100_000).nullable(),
  /** At most 10 SMS segments. */
  sms: text(1_600).nullable(),
  push: z.object({ title: text(200), body: text(2_000) }).strict().nullable(),
  /** Example variables: what a preview renders when it is given no data. */
  sample_data: z.record(z.string(), z.unknown()),
});
export type TemplateContent = z.infer<typeof templateContentSchema>;

export function templateChannels(content: Pick<TemplateContent, 'subject' | 'body_html' | 'body_text' | 'sms' | 'push'>): NotificationChannel[] {
  const channels: NotificationChannel[] = [];
  if (content.body_html !== null || content.body_text !== null) channels.push('email');
  if (content.sms !== null) channels.push('sms');
  if (content.push !== null) channels.push('push');
  return channels;
}

// ---- events -------------------------------------------------------------------------------------------------------

const timestamp = z.iso.datetime({ offset: true });

export const TemplateVersionPublished = defineEvent(
  'TemplateVersionPublished',
  1,
  templateContentSchema.extend({
    template_id: templateIdSchema,
    version: z.number().int().min(1),
    kind: z.enum(templateKinds),
    published_at: timestamp,
  }),
);
export const TemplateArchived = defineEvent(
  'TemplateArchived',
  1,
  z.object({ template_id: templateIdSchema, archived_at: timestamp, reason: z.string().max(1_000) }),
);

export const templateEvents = { TemplateVersionPublished, TemplateArchived } satisfies EventCatalogue;

type EventOf<D> = D extends { type: infer T; schema: infer S extends z.ZodType } ? { type: T; data: z.infer<S> } : never;
export type TemplateEvent = EventOf<(typeof templateEvents)[keyof typeof templateEvents]>;

// ---- commands -----------------------------------------------------------------------------------------------------

/** `now` is given by the caller: deciders read no clock. `kind` may be left out after the first version. */
export type TemplateCommand =
  | { type: 'PublishTemplateVersion'; template_id: string; kind?: TemplateKind; content: TemplateContent; now: string }
  | { type: 'ArchiveTemplate'; template_id: string; reason?: string; now: string };

// ---- state --------------------------------------------------------------------------------------------------------

export type TemplateState =
  | { status: 'none' }
  | {
      status: TemplateStatus;
      template_id: string;
      kind: TemplateKind;
      latest_version: number;
      latest: TemplateContent;
      published_at: string;
      archived_at: string | null;
    };

export const templateDecider: Decider<TemplateCommand, TemplateEvent, TemplateState> = {
  initialState: () => ({ status: 'none' }),
  decide,
  evolve,
};

/** A marketing SMS must tell how to opt out: "STOP au 36111", "STOP SMS au …". */
export const stopMentionPattern = /\bSTOP\b/;

function decide(command: TemplateCommand, state: TemplateState): TemplateEvent[] {
  const template_id = command.template_id;
  if (!templateIdSchema.safeParse(template_id).success) {
    throw new DomainError('invalid_template_id', `"${template_id}" is not a template id`, [
      { path: 'template_id', message: 'lower-case letters, digits, _ and -, at most 100' },
    ]);
  }
  switch (command.type) {
    case 'PublishTemplateVersion': {
      const kind = command.kind ?? (state.status === 'none' ? undefined : state.kind);
      if (kind === undefined) {
        throw new DomainError('template_kind_required', 'The first version of a template must say its kind', [
          { path: 'kind', message: `required: ${templateKinds.join(' or ')}` },
        ]);
      }
      if (state.status !== 'none' && kind !== state.kind) {
        throw new DomainError('template_kind_immutable', `Template ${template_id} is ${state.kind}; its kind cannot change`, [
          { path: 'kind', message: `must stay ${state.kind} (publish another template id for ${kind} messages)` },
        ]);
      }
      const content = command.content;
      assertContentRules(kind, content);
      if (state.status === 'active' && sameContent(state.latest, content)) return [];
      return [
        {
          type: 'TemplateVersionPublished',
          data: {
            template_id,
            version: state.status === 'none' ? 1 : state.latest_version + 1,
            kind,
            ...content,
            published_at: command.now,
          },
        },
      ];
    }
    case 'ArchiveTemplate':
      if (state.status === 'none') {
        throw new DomainError('template_not_found', `Template ${template_id} has no published version (file templates are read-only)`);
      }
      if (state.status === 'archived') return [];
      return [{ type: 'TemplateArchived', data: { template_id, archived_at: command.now, reason: command.reason ?? '' } }];
  }
}

function evolve(state: TemplateState, event: TemplateEvent): TemplateState {
  switch (event.type) {
    case 'TemplateVersionPublished': {
      const { template_id, version, kind, published_at, subject, body_html, body_text, sms, push, sample_data } = event.data;
      return {
        status: 'active',
        template_id,
        kind,
        latest_version: version,
        latest: { subject, body_html, body_text, sms, push, sample_data },
        published_at,
        archived_at: null,
      };
    }
    case 'TemplateArchived':
      return state.status === 'none' ? state : { ...state, status: 'archived', archived_at: event.data.archived_at };
  }
}

function assertContentRules(kind: TemplateKind, content: TemplateContent): void {
  if (templateChannels(content).length === 0) {
    throw new DomainError('template_has_no_content', 'A template needs body_html or body_text (e-mail), sms or push', [
      { path: 'body_html', message: 'give at least one of body_html, body_text, sms, push' },
    ]);
  }
  const email = content.body_html !== null || content.body_text !== null;
  if (email && content.subject === null) {
    throw new DomainError('template_subject_required', 'An e-mail template needs a subject', [{ path: 'subject', message: 'required with body_html or body_text' }]);
  }
  if (!email && content.subject !== null) {
    throw new DomainError('template_body_required', 'A subject needs an e-mail body', [{ path: 'body_html', message: 'required with subject (or body_text)' }]);
  }
  if (kind === 'marketing' && content.sms !== null && !stopMentionPattern.test(content.sms)) {
    throw new DomainError('sms_stop_mention_required', 'A marketing SMS must tell how to opt out', [
      { path: 'sms', message: 'add a STOP mention, e.g. "STOP au 36111"' },
    ]);
  }
  const problems = checkTemplateSource(content);
  if (problems.length > 0) {
    throw new DomainError(
      'template_does_not_compile',
      `The template does not compile: ${problems.map((p) => p.path).join(', ')}`,
      problems,
    );
  }
}

function sameContent(a: TemplateContent, b: TemplateContent): boolean {
  return canonical(a) === canonical(b);
}

/** JSON with sorted keys, so that sample data written in another order is the same content. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)))
      : v,
  );
}
