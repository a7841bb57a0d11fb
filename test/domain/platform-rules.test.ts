import { describe, expect, it } from 'vitest';
import { countHashtags, platformRules, textLength } from '../../src/domain/platform-rules.js';
import { publicationPlatforms } from '../../src/domain/publication-events.js';

describe('platformRules', () => {
  it('has rules for every platform', () => {
    expect(Object.keys(platformRules).sort()).toEqual([...publicationPlatforms].sort());
  });

  it('holds the platforms’ text limits', () => {
    expect(Object.fromEntries(publicationPlatforms.map((p) => [p, platformRules[p].text.maxLength]))).toEqual({
      facebook: 63_206,
      instagram: 2_200,
      twitter: 280,
      google_business: 1_500,
      linkedin: 3_000,
    });
    expect(platformRules.twitter.text.counting).toBe('x_weighted');
  });

  it('limits hashtags only where the platform refuses more (Instagram: 30)', () => {
    expect(publicationPlatforms.filter((p) => platformRules[p].hashtags.max !== null)).toEqual(['instagram']);
    expect(platformRules.instagram.hashtags.max).toBe(30);
  });

  it('holds the media rules', () => {
    const { facebook, instagram, twitter, google_business, linkedin } = platformRules;
    expect(instagram.media).toEqual({ required: true, maxItems: 10, maxVideos: 10, mixesImagesAndVideos: true });
    expect(twitter.media).toEqual({ required: false, maxItems: 4, maxVideos: 1, mixesImagesAndVideos: false });
    expect(google_business.media).toEqual({ required: false, maxItems: 1, maxVideos: 0, mixesImagesAndVideos: false });
    expect(facebook.media).toEqual({ required: false, maxItems: 10, maxVideos: 1, mixesImagesAndVideos: false });
    expect(linkedin.media).toEqual({ required: false, maxItems: 9, maxVideos: 1, mixesImagesAndVideos: false });
  });
});

describe('textLength', () => {
  it('counts code points, so an emoji made of two UTF-16 units counts once', () => {
    expect(textLength('Pizza 🍕', 'code_points')).toBe(7);
  });

  it('counts X’s weighted length: a URL is 23, an emoji or a CJK character 2', () => {
    expect(textLength(`Menu https://example.com/${'a'.repeat(100)}`, 'x_weighted')).toBe(5 + 23);
    expect(textLength('🍕', 'x_weighted')).toBe(2);
    expect(textLength('日本', 'x_weighted')).toBe(4);
    expect(textLength('é', 'x_weighted')).toBe(1);
  });
});

describe('countHashtags', () => {
  it('counts every #word, repeats included', () => {
    expect(countHashtags('#pizza et #été, encore #pizza')).toBe(3);
    expect(countHashtags('no tag # here')).toBe(0);
  });
});
