import { describe, expect, it } from 'vitest';
import { publicClickUrl } from '../../src/integration/click-url.js';

describe('publicClickUrl', () => {
  it('keeps the campaign parameters and drops the others and the fragment', () => {
    expect(publicClickUrl('https://levieuxmoulin.fr/menu?utm_source=newsletter&token=abc123&UTM_Campaign=ete#reserver')).toBe(
      'https://levieuxmoulin.fr/menu?utm_source=newsletter&UTM_Campaign=ete',
    );
  });

  it('leaves a link without parameters as it is', () => {
    expect(publicClickUrl('https://levieuxmoulin.fr/carte')).toBe('https://levieuxmoulin.fr/carte');
  });

  it('drops a query made only of personal parameters', () => {
    expect(publicClickUrl('https://levieuxmoulin.fr/unsubscribe?t=eyJhbGciOi&email=marie%40example.fr')).toBe('https://levieuxmoulin.fr/unsubscribe');
  });
});
