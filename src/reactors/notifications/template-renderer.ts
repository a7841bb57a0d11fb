import { isDomainError } from '../../domain/domain-error.js';
import type { NotificationFields } from '../../domain/notification.js';
import type { OutgoingMessage } from '../../platforms/notifications/provider.js';
import type { TemplateCatalogue } from '../../projections/templates/template-catalogue.js';
import { RenderError, type NotificationRenderer } from './notification-worker.js';

/**
 * Renders a notification with its template from the catalogue (API versions, file templates as version 0). A
 * template that cannot render this recipient's data — missing variable, no text for the channel — is a RenderError:
 * the notification fails with the reason instead of going out blank.
 */
export class TemplateRenderer implements NotificationRenderer {
  constructor(
    private readonly catalogue: TemplateCatalogue,
    /** Headers every marketing e-mail gets, e.g. List-Unsubscribe (RFC 8058); none when absent. */
    private readonly marketingHeaders?: (notification: NotificationFields) => Record<string, string>,
  ) {}

  async render(notification: NotificationFields): Promise<OutgoingMessage> {
    try {
      // The version pinned at request time is always served, even if the template was archived since.
      const template = await this.catalogue.get(notification.template_id, notification.template_version);
      const rendered = template.render(notification.data);
      const base = { notificationId: notification.notification_id, channel: notification.channel, recipient: notification.recipient, kind: template.kind } as const;
      switch (notification.channel) {
        case 'email': {
          if (!rendered.subject || !rendered.html) throw new RenderError('template_lacks_channel', `Template ${template.id} has no e-mail subject and body`);
          const headers = template.kind === 'marketing' ? this.marketingHeaders?.(notification) : undefined;
          // Object.assign, not `{ ...base, email }`: see the note on evolve in domain/notification.ts.
          return Object.assign({}, base, { email: { subject: rendered.subject, html: rendered.html, text: rendered.text ?? '', ...(headers ? { headers } : {}) } });
        }
        case 'sms':
          if (!rendered.sms) throw new RenderError('template_lacks_channel', `Template ${template.id} has no SMS text`);
          return Object.assign({}, base, { sms: rendered.sms });
        case 'push':
          if (!rendered.push) throw new RenderError('template_lacks_channel', `Template ${template.id} has no push title and body`);
          return Object.assign({}, base, { push: rendered.push });
      }
    } catch (error) {
      if (error instanceof RenderError) throw error;
      if (isDomainError(error)) throw new RenderError(error.code, error.message);
      throw error;
    }
  }
}
