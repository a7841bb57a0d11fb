import { describe, expect, it } from 'vitest';
import { formatDate, formatPrice, HelperValueError, pluralize } from '../../../../src/platforms/notifications/templates/helpers.js';
import { renderTemplate } from '../../../../src/platforms/notifications/templates/engine.js';

const nbsp = '\u00a0';
const render = (sms: string, data: Record<string, unknown>) => renderTemplate({ body_text: sms, subject: 's' }, data).text;

describe('French template helpers', () => {
  it('formats dates in Europe/Paris, in French', () => {
    // 17:30 UTC is 18:30 in Paris in November (UTC+1), 19:30 in June (UTC+2).
    expect(formatDate('2026-11-24T17:30:00Z', 'long')).toBe('mardi 24 novembre 2026');
    expect(formatDate('2026-11-24T17:30:00Z', 'datetime')).toBe('24/11/2026 18:30');
    expect(formatDate('2026-06-24T17:30:00Z', 'time')).toBe('19:30');
    expect(formatDate('2026-11-24T17:30:00Z', 'short')).toBe('24/11/2026');
    expect(formatDate('2026-11-24T17:30:00Z', 'medium')).toBe('24 novembre 2026');
    expect(formatDate('2026-11-24T17:30:00Z', 'day')).toBe('mardi 24 novembre');
    expect(formatDate('2026-11-24T17:30:00Z', 'long_time')).toBe('mardi 24 novembre 2026 à 18:30');
    // Late evening UTC is already the next day in Paris.
    expect(formatDate('2026-12-31T23:30:00Z', 'short')).toBe('01/01/2027');
    // A calendar date stays that day.
    expect(formatDate('2026-11-24', 'long')).toBe('mardi 24 novembre 2026');
    expect(formatDate(new Date('2026-11-24T17:30:00Z'), 'datetime')).toBe('24/11/2026 18:30');
    expect(formatDate(Date.parse('2026-11-24T17:30:00Z'))).toBe('mardi 24 novembre 2026');
  });

  it('refuses what is not a date, and unknown formats', () => {
    expect(() => formatDate('demain')).toThrow(HelperValueError);
    expect(() => formatDate({})).toThrow(/expected a date/);
    expect(() => formatDate('2026-11-24T17:30:00Z', 'fancy')).toThrow(/unknown date format "fancy"/);
  });

  it('formats prices in euros, French style', () => {
    expect(formatPrice(12.5)).toBe(`12,50${nbsp}€`);
    expect(formatPrice('24')).toBe(`24,00${nbsp}€`);
    expect(formatPrice('8,5')).toBe(`8,50${nbsp}€`);
    expect(formatPrice(1234.5)).toBe(`1\u202f234,50${nbsp}€`);
    expect(() => formatPrice('douze')).toThrow(/expected an amount in euros/);
    expect(() => formatPrice(Number.NaN)).toThrow(HelperValueError);
  });

  it('pluralizes the French way: 0 and 1 are singular', () => {
    expect(pluralize(1, 'couvert', 'couverts')).toBe('1 couvert');
    expect(pluralize(0, 'couvert', 'couverts')).toBe('0 couvert');
    expect(pluralize(3, 'couvert', 'couverts')).toBe('3 couverts');
    expect(pluralize('2', 'personne')).toBe('2 personnes');
    expect(() => pluralize('beaucoup', 'couvert')).toThrow(/expected a number/);
  });

  it('works as Handlebars helpers', () => {
    expect(render("{{plural guests 'couvert' 'couverts'}} le {{date at 'datetime'}} pour {{price total}}", { guests: 3, at: '2026-11-24T17:30:00Z', total: 42 })).toBe(
      `3 couverts le 24/11/2026 18:30 pour 42,00${nbsp}€`,
    );
    expect(render('{{date at}}', { at: '2026-11-24T17:30:00Z' })).toBe('mardi 24 novembre 2026');
    expect(render('{{date at format="time"}}', { at: '2026-11-24T17:30:00Z' })).toBe('18:30');
    expect(render('{{upper name}}', { name: 'élodie' })).toBe('ÉLODIE');
    expect(render("Bonjour {{default first_name 'cher client'}}", {})).toBe('Bonjour cher client');
    expect(render("Bonjour {{default first_name 'cher client'}}", { first_name: '' })).toBe('Bonjour cher client');
    expect(render("Bonjour {{default first_name 'cher client'}}", { first_name: 'Camille' })).toBe('Bonjour Camille');
    expect(render("{{upper (default nickname 'ami')}}", {})).toBe('AMI');
  });
});
