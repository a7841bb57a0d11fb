import { describe, expect, it } from 'vitest';
import {
  checkTemplateSource,
  renderTemplate,
  TemplateCompileError,
  TemplateEngine,
  TemplateRenderError,
  type TemplateSource,
} from '../../../../src/platforms/notifications/templates/engine.js';

const promotional: TemplateSource = {
  subject: '{{promo_title}} - Offre spéciale Le Vieux Moulin',
  body_html:
    "<h1>{{promo_title}}</h1><p>Cher(e) {{customer.first_name}},</p><p>{{promo_description}}</p><p>Cette offre est valable jusqu'au {{valid_until}}.</p><p><a href='{{booking_link}}'>Réservez maintenant</a></p>",
};
const promoData = {
  promo_title: 'Pizza & dessert',
  customer: { first_name: 'Camille' },
  promo_description: "Une pizza achetée, l'entremet offert",
  valid_until: '27 avril',
  booking_link: 'https://levieuxmoulin.fr/reserver?utm_source=email&offre=pizza',
};

/** Runs fn, expects a TemplateRenderError, returns it. */
function renderError(fn: () => unknown): TemplateRenderError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(TemplateRenderError);
    return error as TemplateRenderError;
  }
  throw new Error('expected a TemplateRenderError');
}

describe('template engine', () => {
  it('renders the spec template: HTML escaped, plain-text fields not, text derived from the HTML', () => {
    const out = renderTemplate(promotional, promoData);
    expect(out.subject).toBe('Pizza & dessert - Offre spéciale Le Vieux Moulin');
    expect(out.html).toContain('<h1>Pizza &amp; dessert</h1>');
    expect(out.html).toContain('l&#x27;entremet');
    expect(out.text).toBe(
      "Pizza & dessert\n\nCher(e) Camille,\n\nUne pizza achetée, l'entremet offert\n\nCette offre est valable jusqu'au 27 avril.\n\n" +
        'Réservez maintenant (https://levieuxmoulin.fr/reserver?utm_source=email&offre=pizza)',
    );
    expect(out.sms).toBeUndefined();
    expect(out.push).toBeUndefined();
  });

  it('escapes data in HTML, and refuses raw output there', () => {
    const out = renderTemplate({ subject: 's', body_html: '<p>{{name}}</p>' }, { name: '<script>alert(1)</script>' });
    expect(out.html).toBe('<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>');
    expect(checkTemplateSource({ subject: 's', body_html: '<div>{{{signature}}}</div>' })).toEqual([{ path: 'body_html', message: expect.stringContaining('raw output') }]);
    expect(checkTemplateSource({ subject: 's', body_html: '<div>{{& signature}}</div>' })).toHaveLength(1);
  });

  it('uses body_text when given, and renders sms and push as plain text', () => {
    const out = renderTemplate(
      {
        subject: 'Réservation\n{{ref}}',
        body_html: '<p>HTML</p>',
        body_text: "Texte pour {{name}} : l'addition est de {{price total}}",
        sms: "{{name}}, l'addition : {{price total}}",
        push: { title: "À l'heure", body: '{{name}} & co' },
      },
      { name: 'Léa', total: 12.5, ref: 'ABC' },
    );
    expect(out.subject).toBe('Réservation ABC');
    expect(out.text).toBe("Texte pour Léa : l'addition est de 12,50\u00a0€");
    // SMS: no non-breaking space (outside the GSM alphabet, it would make the message UCS-2).
    expect(out.sms).toBe("Léa, l'addition : 12,50 €");
    expect(out.push).toEqual({ title: "À l'heure", body: 'Léa & co' });
  });

  it('refuses a missing variable, naming it, the template, the field and the place', () => {
    const engine = new TemplateEngine();
    const template = engine.compile('promotional_email', 3, promotional);
    const error = renderError(() => template.render({ ...promoData, customer: {} }));
    expect(error.code).toBe('missing_variable');
    expect(error.variable).toBe('customer.first_name');
    expect(error.templateId).toBe('promotional_email');
    expect(error.version).toBe(3);
    expect(error.field).toBe('body_html');
    expect(error.line).toBe(1);
    expect(error.message).toContain('promotional_email v3');
    expect(error.message).toContain('"customer.first_name"');
    expect(error.details).toEqual([{ path: 'data.customer.first_name', message: expect.stringContaining('body_html') }]);

    expect(renderError(() => template.render({ ...promoData, customer: undefined })).variable).toBe('customer.first_name');
    const { promo_title: _omitted, ...withoutTitle } = promoData;
    const subject = renderError(() => template.render(withoutTitle));
    expect([subject.variable, subject.field]).toEqual(['promo_title', 'subject']);
  });

  it('names variables inside {{#each}} and {{#with}} from the root, and the ones helpers need', () => {
    const menu = { subject: 'Menu', body_html: '{{#each menu_items}}<p>{{this.name}} - {{price price}}</p>{{/each}}{{#with chef}}<p>{{name}}</p>{{/with}}' };
    expect(renderTemplate(menu, { menu_items: [{ name: 'Magret', price: 24 }], chef: { name: 'Paul' } }).html).toBe(
      '<p>Magret - 24,00\u00a0€</p><p>Paul</p>',
    );
    expect(renderError(() => renderTemplate(menu, { menu_items: [{ price: 24 }], chef: { name: 'Paul' } })).variable).toBe('menu_items[].name');
    expect(renderError(() => renderTemplate(menu, { menu_items: [{ name: 'Magret' }], chef: { name: 'Paul' } })).variable).toBe('menu_items[].price');
    expect(renderError(() => renderTemplate(menu, { menu_items: [], chef: {} })).variable).toBe('chef.name');

    const sms = { sms: "Table pour {{plural guests 'personne' 'personnes'}} le {{date date 'long'}}" };
    const missingDate = renderError(() => renderTemplate(sms, { guests: 2 }));
    expect([missingDate.code, missingDate.variable, missingDate.field]).toEqual(['missing_variable', 'date', 'sms']);
    expect(missingDate.message).toContain('{{date}}');
    const badDate = renderError(() => renderTemplate(sms, { guests: 2, date: 'demain soir' }));
    expect([badDate.code, badDate.variable]).toEqual(['invalid_value', 'date']);
  });

  it('keeps optional sections optional, but a section under a missing object names the path', () => {
    const source = { sms: 'Bonjour{{#if customer.vip}} cher habitué{{/if}}' };
    expect(renderTemplate(source, { customer: {} }).sms).toBe('Bonjour');
    expect(renderTemplate({ sms: 'Bonjour{{#if vip}} !{{/if}}' }, {}).sms).toBe('Bonjour');
    const error = renderError(() => renderTemplate(source, {}));
    expect([error.code, error.variable]).toEqual(['missing_variable', 'customer.vip']);
  });

  it('never sends a blank field', () => {
    const error = renderError(() => renderTemplate({ sms: "{{default note ''}}" }, {}));
    expect([error.code, error.field]).toEqual(['empty_output', 'sms']);
  });

  it('gives no access to prototypes', () => {
    expect(renderTemplate({ sms: 'x{{lookup this "constructor"}}{{__proto__}}' }, {}).sms).toBe('x');
    expect(renderError(() => renderTemplate({ sms: '{{constructor.name}}' }, {})).code).toBe('missing_variable');
    // Inherited properties and methods resolve to nothing.
    const inherited = Object.assign(Object.create({ secret: () => 'leaked', hidden: 'leaked' }) as object, { name: 'ok' });
    expect(renderTemplate({ sms: '{{name}} [{{secret}}] [{{hidden}}]' }, inherited as Record<string, unknown>).sms).toBe('ok [] []');
  });

  it('checks sources: syntax, unknown helpers, partials, decorators and log are refused, naming the field', () => {
    expect(checkTemplateSource(promotional)).toEqual([]);
    const problems = checkTemplateSource({
      subject: '{{#if promo}}Offre',
      body_html: '<p>{{> footer}}</p>',
      body_text: '{{formatDate date}}',
      sms: '{{log "x"}}',
      push: { title: '{{*inline}}', body: 'ok {{name}}' },
    });
    expect(problems.map((p) => p.path)).toEqual(['subject', 'body_html', 'body_text', 'sms', 'push.title']);
    expect(problems[0]!.message).toMatch(/Parse error on line 1/);
    expect(problems[1]!.message).toMatch(/partials are not available/);
    expect(problems[2]!.message).toMatch(/unknown helper "formatDate"/);
    expect(problems[3]!.message).toMatch(/unknown helper "log"/);
    expect(problems[4]!.message).toMatch(/decorators are not available/);
    expect(() => new TemplateEngine().compile('broken', 1, { sms: '{{#each}}' })).toThrow(TemplateCompileError);
  });

  it('compiles each version once and caches it by template id and version', () => {
    const engine = new TemplateEngine(2);
    const v1 = engine.compile('menu_update', 1, { sms: 'v1 {{x}}' });
    expect(engine.compile('menu_update', 1, { sms: 'v1 {{x}}' })).toBe(v1);
    expect(engine.cached('menu_update', 1)).toBe(v1);
    const v2 = engine.compile('menu_update', 2, { sms: 'v2 {{x}}' });
    expect(v2).not.toBe(v1);
    expect(v2.render({ x: 'a' }).sms).toBe('v2 a');
    // A different text under a cached id and version is never served stale.
    expect(engine.compile('menu_update', 2, { sms: 'autre {{x}}' }).render({ x: 'a' }).sms).toBe('autre a');
    // Bounded: the least recently used goes first.
    engine.compile('menu_update', 1, { sms: 'v1 {{x}}' });
    engine.compile('other', 1, { sms: 'o' });
    expect(engine.size).toBe(2);
    expect(engine.cached('menu_update', 2)).toBeUndefined();
    expect(engine.cached('menu_update', 1)).toBe(v1);
  });
});
