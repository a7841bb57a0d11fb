import { describe, expect, it } from 'vitest';
import {
  composeText,
  hashtagLine,
  normaliseHashtag,
  shortenAtWords,
  shortenToFit,
  uniqueHashtags,
} from '../../src/domain/publication-adaptation.js';
import type { PublicationContent } from '../../src/domain/publication-events.js';

const content: PublicationContent = {
  title: 'Promotion du jour',
  body: 'Profitez de notre offre spéciale sur les pizzas !',
  media_urls: ['https://example.com/images/promo.jpg'],
  hashtags: ['promotion', '#pizza', 'vieuxmoulin'],
};
const withContent = (changes: Partial<PublicationContent>): PublicationContent => ({ ...content, ...changes });
const atMost = (max: number) => (candidate: string) => [...candidate].length <= max;

describe('normaliseHashtag', () => {
  it('gives the tag exactly one leading #', () => {
    expect(normaliseHashtag('pizza')).toBe('#pizza');
    expect(normaliseHashtag('#pizza')).toBe('#pizza');
    expect(normaliseHashtag('##pizza')).toBe('#pizza');
    expect(normaliseHashtag('＃pizza')).toBe('#pizza');
  });

  it('keeps the spelling and drops the spaces around', () => {
    expect(normaliseHashtag('  #VieuxMoulin ')).toBe('#VieuxMoulin');
    expect(normaliseHashtag('été_2025')).toBe('#été_2025');
  });

  it('gives nothing for a tag that is only #', () => {
    expect(normaliseHashtag('#')).toBe('');
    expect(normaliseHashtag('  ')).toBe('');
  });
});

describe('uniqueHashtags', () => {
  it('removes repeats case-insensitively, keeping the first spelling and the order', () => {
    expect(uniqueHashtags(['Pizza', 'promo', '#pizza', 'PIZZA', 'menu', '#Promo'])).toEqual(['Pizza', 'promo', 'menu']);
  });

  it('treats composed and decomposed accents as one tag', () => {
    expect(uniqueHashtags(['été', 'e\u0301te\u0301'])).toEqual(['été']);
  });

  it('drops the empty tags', () => {
    expect(uniqueHashtags(['#', 'pizza', ''])).toEqual(['pizza']);
  });
});

describe('hashtagLine', () => {
  it('formats each tag as #tag, separated by spaces', () => {
    expect(hashtagLine(['promotion', '#pizza', 'Pizza', 'vieuxmoulin'])).toBe('#promotion #pizza #vieuxmoulin');
  });
});

describe('composeText', () => {
  it('puts the title, the body and the hashtags in blocks separated by a blank line', () => {
    expect(composeText(content, 'facebook')).toBe(
      'Promotion du jour\n\nProfitez de notre offre spéciale sur les pizzas !\n\n#promotion #pizza #vieuxmoulin',
    );
  });

  it('appends the hashtags on every platform but Google Business Profile', () => {
    for (const platform of ['facebook', 'instagram', 'twitter', 'linkedin'] as const) {
      expect(composeText(content, platform).endsWith('#promotion #pizza #vieuxmoulin')).toBe(true);
    }
    expect(composeText(content, 'google_business')).toBe(
      'Promotion du jour\n\nProfitez de notre offre spéciale sur les pizzas !',
    );
  });

  it('keeps the hashtags written in the body on Google Business Profile', () => {
    expect(composeText(withContent({ title: '', body: 'Soirée #jazz ce soir' }), 'google_business')).toBe(
      'Soirée #jazz ce soir',
    );
  });

  it('leaves out the empty blocks, without stray blank lines', () => {
    expect(composeText(withContent({ title: '' }), 'twitter')).toBe(
      'Profitez de notre offre spéciale sur les pizzas !\n\n#promotion #pizza #vieuxmoulin',
    );
    expect(composeText(withContent({ body: '  ' }), 'twitter')).toBe('Promotion du jour\n\n#promotion #pizza #vieuxmoulin');
    expect(composeText(withContent({ hashtags: [] }), 'twitter')).toBe(
      'Promotion du jour\n\nProfitez de notre offre spéciale sur les pizzas !',
    );
    expect(composeText(withContent({ title: '', body: '', hashtags: [] }), 'instagram')).toBe('');
  });

  it('trims the title and the body but keeps their inner lines', () => {
    expect(composeText(withContent({ title: ' Menu \n', body: '\nEntrée\nPlat\nDessert\n\n', hashtags: [] }), 'linkedin')).toBe(
      'Menu\n\nEntrée\nPlat\nDessert',
    );
  });

  it('gives the same text for the same content', () => {
    expect(composeText(structuredClone(content), 'instagram')).toBe(composeText(content, 'instagram'));
  });
});

describe('shortenToFit', () => {
  it('keeps a text that fits', () => {
    expect(shortenToFit('Soirée jazz ce soir', atMost(19))).toBe('Soirée jazz ce soir');
  });

  it('keeps the most whole words that fit, followed by …', () => {
    expect(shortenToFit('Soirée jazz ce soir', atMost(18))).toBe('Soirée jazz ce…');
    expect(shortenToFit('Soirée jazz ce soir', atMost(12))).toBe('Soirée jazz…');
    expect(shortenToFit('Soirée   jazz\nce soir', atMost(14))).toBe('Soirée   jazz…');
  });

  it('cuts inside the first word only when it does not fit whole', () => {
    expect(shortenToFit('Anticonstitutionnellement parlant', atMost(8))).toBe('Anticon…');
    expect(shortenToFit('Anticonstitutionnellement', atMost(8))).toBe('Anticon…');
  });

  it('never splits a character people see as one', () => {
    expect(shortenToFit('👨‍👩‍👧👨‍👩‍👧👨‍👩‍👧', (candidate) => candidate.length <= 12)).toBe('👨‍👩‍👧…');
  });

  it('gives nothing when nothing fits', () => {
    expect(shortenToFit('Soirée jazz', atMost(1))).toBe('');
  });
});

describe('shortenAtWords', () => {
  it('never cuts a word, even when nothing else fits', () => {
    expect(shortenAtWords('Anticonstitutionnellement parlant', atMost(8))).toBe('');
  });

  it('does not offer the whole text', () => {
    expect(shortenAtWords('Soirée jazz', () => true)).toBe('Soirée…');
  });
});
