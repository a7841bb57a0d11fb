import Handlebars from 'handlebars';
import { afterEach, describe, expect, it } from 'vitest';
import {
  checkTemplateSource,
  renderTemplate,
  TemplateCompileError,
  TemplateRenderError,
  type RenderedTemplate,
  type TemplateSource,
} from '../../../../src/platforms/notifications/templates/engine.js';

/**
 * Templates come from the API (anyone with templates:write) and their data from notification requests (anyone with
 * notifications:write, often a guest's own words): neither may run code in the service, read what lies behind the
 * data's prototype, or put unescaped data into an e-mail's HTML.
 */

const data = { customer: { first_name: 'Camille' }, items: [{ name: 'Tarte' }], note: 'Sans gluten' };

/** The output, or the refusal: both are acceptable answers to a hostile template; anything else is not. */
function attempt(source: TemplateSource, input: Record<string, unknown> = data): { html?: string; refused?: Error } {
  try {
    const out: RenderedTemplate = renderTemplate({ subject: 'Le Vieux Moulin', ...source }, input);
    return { html: out.html };
  } catch (error) {
    expect(error).toSatisfy((e) => e instanceof TemplateRenderError || e instanceof TemplateCompileError);
    return { refused: error as Error };
  }
}

/** What prototype access would print: a function's source, a constructor's name. */
const leaks = /function|native code|\bObject\b|\bFunction\b|\bArray\b|\bString\b|\[object/;

describe('template safety', () => {
  afterEach(() => {
    delete (globalThis as Record<string, unknown>).__pwned;
  });

  it('uses Handlebars 4.6 or later, where prototype access is denied by default, and the engine denies it explicitly too', () => {
    const [major, minor] = Handlebars.VERSION.split('.').map(Number);
    expect(major! > 4 || (major === 4 && minor! >= 6)).toBe(true);
    // A value the data inherits rather than owns is not rendered, even when it is not a method.
    class Guest {
      constructor(readonly first_name: string) {}
    }
    Object.defineProperty(Guest.prototype, 'secret', { get: () => 'hidden-from-templates', enumerable: true });
    const { html } = attempt({ body_html: '<p>{{customer.first_name}}{{customer.secret}}</p>' }, { customer: new Guest('Camille') });
    expect(html).toBe('<p>Camille</p>');
  });

  it.each([
    '{{constructor}}',
    '{{constructor.constructor}}',
    '{{constructor.name}}',
    '{{__proto__}}',
    '{{__proto__.constructor}}',
    '{{this.__proto__}}',
    '{{@root.constructor.name}}',
    '{{customer.constructor.constructor}}',
    '{{items.constructor.name}}',
    '{{note.constructor}}',
    '{{toString}}',
    '{{valueOf}}',
    '{{hasOwnProperty}}',
    '{{__defineGetter__}}',
    '{{__lookupGetter__}}',
    '{{lookup this "constructor"}}',
    '{{lookup (lookup this "constructor") "constructor"}}',
    '{{lookup customer "__proto__"}}',
    '{{#with customer}}{{constructor}}{{/with}}',
    '{{#with note}}{{constructor}}{{/with}}',
    '{{#with "s" as |s|}}{{s.sub}}{{s.constructor}}{{/with}}',
    '{{#each items}}{{constructor.name}}{{/each}}',
  ])('gives no prototype access through %s', (probe) => {
    const { html, refused } = attempt({ body_html: `<p>${probe}</p>` });
    if (refused) expect(refused.message).not.toMatch(/native code/);
    else expect(html).not.toMatch(leaks);
  });

  it('cannot run code: the known sandbox escape is refused before it renders', () => {
    // The classic Handlebars escape: reach Function through String.prototype.sub.constructor and call it.
    const escape =
      '{{#with "s" as |string|}}{{#with "e"}}{{#with split as |conslist|}}{{this.pop}}{{this.push (lookup string.sub "constructor")}}{{this.pop}}' +
      '{{#with string.split as |codelist|}}{{this.pop}}{{this.push "return globalThis.__pwned = true;"}}{{this.pop}}' +
      '{{#each conslist}}{{#with (string.sub.apply 0 codelist)}}{{this}}{{/with}}{{/each}}{{/with}}{{/with}}{{/with}}{{/with}}';
    for (const field of ['body_html', 'body_text', 'sms'] as const) {
      const { refused } = attempt({ [field]: escape, ...(field === 'body_text' ? {} : { body_text: 'x' }) });
      expect(refused, field).toBeInstanceOf(TemplateCompileError);
      expect(checkTemplateSource({ [field]: escape }).length, field).toBeGreaterThan(0);
    }
    // With only the allowed helpers, the path to Function is closed by the prototype rules.
    attempt({ body_html: '{{#with "s" as |s|}}{{#with (lookup s "sub")}}{{#with (lookup this "constructor")}}{{this}}{{/with}}{{/with}}{{/with}}' });
    expect((globalThis as Record<string, unknown>).__pwned).toBeUndefined();
  });

  it.each(['{{> header}}', '{{#> layout}}x{{/layout}}', '{{#*inline "p"}}x{{/inline}}', '{{log "x"}}'])('refuses %s when the template is published', (construct) => {
    expect(checkTemplateSource({ subject: 's', body_html: `<p>${construct}</p>` })).toEqual([{ path: 'body_html', message: expect.any(String) }]);
  });

  // Handlebars' internal helpers pass the publish-time check (it counts them as built-ins) but never run.
  it.each(['{{helperMissing "x"}}', '{{blockHelperMissing "x"}}', '{{#blockHelperMissing this}}x{{/blockHelperMissing}}'])('refuses %s when it renders', (construct) => {
    expect(attempt({ body_html: `<p>${construct}</p>` }).refused).toBeInstanceOf(TemplateRenderError);
  });

  it('escapes request data in body_html, and never evaluates it as a template', () => {
    const hostile = {
      customer: { first_name: '<script>alert(1)</script><img src=x onerror="alert(2)">' },
      note: "{{constructor.constructor}} ' ` =",
    };
    const { html } = attempt({ body_html: '<p title="{{note}}">{{customer.first_name}}</p><a href="/r?n={{note}}">{{note}}</a>' }, hostile);
    expect(html).not.toContain('<script>');
    expect(html).not.toContain('<img');
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src&#x3D;x onerror&#x3D;&quot;alert(2)&quot;&gt;');
    expect(html).toContain('{{constructor.constructor}} &#x27; &#x60; &#x3D;');
  });

  it('reads own __proto__ keys of request data as plain data, and pollutes nothing', () => {
    const parsed = JSON.parse('{"__proto__": {"polluted": "yes"}, "customer": {"__proto__": {"first_name": "Mallory"}, "constructor": {"prototype": {"polluted": "yes"}}}}');
    attempt({ body_html: '<p>{{__proto__.polluted}} {{customer.__proto__.first_name}} {{customer.constructor.prototype.polluted}}</p>' }, parsed);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.prototype).not.toHaveProperty('polluted');
  });

  it('refuses a triple-stash of request data in HTML, so nothing reaches an e-mail unescaped', () => {
    const source: TemplateSource = { subject: 'Réservation', body_html: '<p>{{{customer.first_name}}}{{& note}}</p>' };
    expect(checkTemplateSource(source).map((p) => p.path)).toEqual(['body_html']);
    expect(() => renderTemplate(source, { customer: { first_name: '<script>alert(1)</script>' }, note: '<img src=x onerror=alert(2)>' })).toThrow();
  });
});
