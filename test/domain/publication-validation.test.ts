import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { platformRules, textLength } from '../../src/domain/platform-rules.js';
import { composeText } from '../../src/domain/publication-adaptation.js';
import {
  publicationContentSchema,
  publicationPlatforms,
  type Platform,
  type PublicationContent,
} from '../../src/domain/publication-events.js';
import { validatePublication, type ValidationResult } from '../../src/domain/publication-validation.js';

const image = (n: number): string => `https://cdn.example.com/images/photo-${n}.jpg`;
const video = (n: number): string => `https://cdn.example.com/videos/clip-${n}.mp4`;
const images = (count: number): string[] => Array.from({ length: count }, (_, i) => image(i + 1));

const content: PublicationContent = {
  title: 'Promotion du jour',
  body: 'Profitez de notre offre spéciale sur les pizzas !',
  media_urls: [image(1)],
  hashtags: ['promotion', 'pizza', 'vieuxmoulin'],
};
const withContent = (changes: Partial<PublicationContent>): PublicationContent => ({ ...content, ...changes });
const validate = (c: PublicationContent, platforms: Platform[]): ValidationResult =>
  validatePublication({ content: c, platforms });
const codes = (result: ValidationResult) => result.violations.map((v) => [v.platform, v.code]);
const lengthOn = (c: PublicationContent, platform: Platform): number =>
  textLength(composeText(c, platform), platformRules[platform].text.counting);

describe('validatePublication: a suitable publication', () => {
  it('is valid on every platform, with no suggestion', () => {
    expect(validate(content, [...publicationPlatforms])).toEqual({ valid: true, violations: [], suggestion: null });
  });

  it('is valid with no platform at all (that shape check is the decider’s)', () => {
    expect(validate(content, []).valid).toBe(true);
  });
});

describe('validatePublication: text length', () => {
  it('counts the title and the hashtags in the text posted', () => {
    const body = 'a'.repeat(2_200 - [...'Promotion du jour\n\n\n\n#promotion #pizza #vieuxmoulin'].length);
    expect(validate(withContent({ body }), ['instagram']).valid).toBe(true);
    const result = validate(withContent({ body: `${body}b` }), ['instagram']);
    expect(result.violations).toEqual([
      {
        platform: 'instagram',
        field: 'content.body',
        code: 'text_too_long',
        message: 'Instagram allows 2200 characters; the text posted there (title, body and hashtags) has 2201',
        limit: 2_200,
        actual: 2_201,
      },
    ]);
  });

  it('counts X’s weighted length: a long link counts 23', () => {
    const body = `Notre nouvelle carte : https://www.levieuxmoulin.fr/carte/${'printemps-'.repeat(30)}`;
    expect([...body].length).toBeGreaterThan(280);
    expect(validate(withContent({ body }), ['twitter']).valid).toBe(true);
  });

  it('counts X’s weighted length: a CJK character or an emoji counts 2', () => {
    const result = validate(withContent({ title: '', hashtags: [], body: '🍕'.repeat(141) }), ['twitter']);
    expect(result.violations).toMatchObject([{ platform: 'twitter', code: 'text_too_long', limit: 280, actual: 282 }]);
    expect(result.violations[0]?.message).toContain('weighted');
  });

  it('reports each platform whose limit is exceeded', () => {
    const result = validate(withContent({ body: 'mot '.repeat(400) }), ['twitter', 'google_business', 'facebook']);
    expect(codes(result)).toEqual([
      ['twitter', 'text_too_long'],
      ['google_business', 'text_too_long'],
    ]);
  });
});

describe('validatePublication: hashtags', () => {
  const thirtyTags = Array.from({ length: 30 }, (_, i) => `tag${i + 1}`);

  it('accepts 30 hashtags on Instagram', () => {
    expect(validate(withContent({ hashtags: thirtyTags }), ['instagram']).valid).toBe(true);
  });

  it('counts the hashtags written in the title and body toward Instagram’s 30', () => {
    const result = validate(withContent({ body: 'Ce soir #jazz et #blues', hashtags: thirtyTags }), ['instagram']);
    expect(result.violations).toEqual([
      {
        platform: 'instagram',
        field: 'content.hashtags',
        code: 'too_many_hashtags',
        message: 'Instagram allows 30 hashtags in a post; the text posted there has 32, 2 of them written in the title or body',
        limit: 30,
        actual: 32,
      },
    ]);
    expect(result.suggestion?.content.hashtags).toEqual(thirtyTags.slice(0, 28));
  });

  it('counts a repeated hashtag once', () => {
    expect(validate(withContent({ hashtags: [...thirtyTags, 'TAG1', '#tag2'] }), ['instagram']).valid).toBe(true);
  });

  it('sets no hashtag limit elsewhere', () => {
    const body = Array.from({ length: 40 }, (_, i) => `#t${i}`).join(' ');
    expect(validate(withContent({ body }), ['facebook', 'twitter', 'linkedin', 'google_business']).valid).toBe(true);
  });
});

describe('validatePublication: media', () => {
  it('requires an image or a video on Instagram; with no other platform there is no suggestion', () => {
    const result = validate(withContent({ media_urls: [] }), ['instagram']);
    expect(result.violations).toEqual([
      {
        platform: 'instagram',
        field: 'content.media_urls',
        code: 'media_required',
        message: 'Instagram needs at least one image or video; the publication has none',
        limit: 1,
        actual: 0,
      },
    ]);
    expect(result.suggestion).toBeNull();
  });

  it('drops Instagram from the suggestion when there is no medium, with the reason', () => {
    const result = validate(withContent({ media_urls: [] }), ['facebook', 'instagram']);
    expect(result.suggestion).toEqual({
      content: withContent({ media_urls: [] }),
      platforms: ['facebook'],
      dropped_platforms: [
        { platform: 'instagram', reason: 'Instagram needs at least one image or video; the publication has none' },
      ],
    });
  });

  it('accepts up to 10 images and videos, mixed, in an Instagram carousel', () => {
    expect(validate(withContent({ media_urls: [...images(9), video(1)] }), ['instagram']).valid).toBe(true);
    const result = validate(withContent({ media_urls: [...images(10), video(1)] }), ['instagram']);
    expect(result.violations).toMatchObject([{ code: 'too_many_media', limit: 10, actual: 11 }]);
    expect(result.suggestion?.content.media_urls).toEqual(images(10));
  });

  it('accepts 4 images or 1 video on X, not both', () => {
    expect(validate(withContent({ media_urls: images(4) }), ['twitter']).valid).toBe(true);
    expect(validate(withContent({ media_urls: [video(1)] }), ['twitter']).valid).toBe(true);
    expect(codes(validate(withContent({ media_urls: images(5) }), ['twitter']))).toEqual([['twitter', 'too_many_media']]);
    expect(codes(validate(withContent({ media_urls: [video(1), video(2)] }), ['twitter']))).toEqual([
      ['twitter', 'too_many_videos'],
    ]);
    const mixed = validate(withContent({ media_urls: [image(1), video(1)] }), ['twitter']);
    expect(mixed.violations).toEqual([
      {
        platform: 'twitter',
        field: 'content.media_urls',
        code: 'mixed_media_not_allowed',
        message: 'X cannot mix images and videos in one post; the publication has 1 image and 1 video',
      },
    ]);
  });

  it('keeps the first medium’s kind when a platform cannot mix, then the first ones', () => {
    const imagesFirst = validate(withContent({ media_urls: [image(1), video(1), ...images(6).slice(1)] }), ['twitter']);
    expect(imagesFirst.suggestion?.content.media_urls).toEqual(images(4));
    const videoFirst = validate(withContent({ media_urls: [video(1), image(1), video(2)] }), ['facebook']);
    expect(videoFirst.suggestion?.content.media_urls).toEqual([video(1)]);
  });

  it('accepts 1 photo and no video on Google Business Profile', () => {
    expect(validate(withContent({ media_urls: [image(1)] }), ['google_business']).valid).toBe(true);
    expect(validate(withContent({ media_urls: images(2) }), ['google_business']).violations).toMatchObject([
      { code: 'too_many_media', limit: 1, actual: 2 },
    ]);
    const result = validate(withContent({ media_urls: [video(1), image(1)] }), ['google_business']);
    expect(result.violations).toEqual([
      {
        platform: 'google_business',
        field: 'content.media_urls',
        code: 'video_not_allowed',
        message: 'Google Business Profile accepts no video; the publication has 1 video',
        limit: 0,
        actual: 1,
      },
    ]);
    expect(result.suggestion?.content.media_urls).toEqual([image(1)]);
  });

  it('removes the only video for Google Business Profile when the body is enough', () => {
    const result = validate(withContent({ media_urls: [video(1)] }), ['facebook', 'google_business']);
    expect(result.suggestion).toMatchObject({
      content: { media_urls: [] },
      platforms: ['facebook', 'google_business'],
      dropped_platforms: [],
    });
  });

  it('drops Google Business Profile rather than the only video Instagram needs', () => {
    const result = validate(withContent({ media_urls: [video(1)] }), ['instagram', 'google_business']);
    expect(result.suggestion).toEqual({
      content: withContent({ media_urls: [video(1)] }),
      platforms: ['instagram'],
      dropped_platforms: [
        {
          platform: 'google_business',
          reason:
            "Google Business Profile accepts no video and the publication's media are all videos; removing them would leave Instagram without a medium",
        },
      ],
    });
  });

  it('drops Google Business Profile rather than leave a post without body nor medium', () => {
    const result = validate(withContent({ body: '', media_urls: [video(1)] }), ['facebook', 'google_business']);
    expect(result.suggestion?.platforms).toEqual(['facebook']);
    expect(result.suggestion?.dropped_platforms[0]?.reason).toContain('would leave nothing to post');
  });

  it('accepts 10 images or 1 video on Facebook, 9 images or 1 video on LinkedIn', () => {
    expect(validate(withContent({ media_urls: images(10) }), ['facebook']).valid).toBe(true);
    expect(codes(validate(withContent({ media_urls: images(11) }), ['facebook']))).toEqual([['facebook', 'too_many_media']]);
    expect(codes(validate(withContent({ media_urls: images(10) }), ['linkedin']))).toEqual([['linkedin', 'too_many_media']]);
    expect(codes(validate(withContent({ media_urls: [video(1), image(1)] }), ['linkedin']))).toEqual([
      ['linkedin', 'mixed_media_not_allowed'],
    ]);
  });

  it('keeps the strictest count for all the platforms at once', () => {
    const result = validate(withContent({ media_urls: images(12) }), ['instagram', 'linkedin', 'twitter']);
    expect(result.suggestion?.content.media_urls).toEqual(images(4));
  });
});

describe('validatePublication: the suggestion’s text', () => {
  const body = Array.from({ length: 80 }, (_, i) => `mot${i}`).join(' ');

  it('shortens the body at a word boundary, keeping the title and the hashtags', () => {
    const suggestion = validate(withContent({ body }), ['twitter', 'facebook']).suggestion;
    expect(suggestion?.content.title).toBe(content.title);
    expect(suggestion?.content.hashtags).toEqual(content.hashtags);
    const shortened = suggestion?.content.body ?? '';
    expect(shortened).toMatch(/^mot0 mot1 .* mot\d+…$/);
    expect(body.startsWith(shortened.slice(0, -1) + ' ')).toBe(true);
    expect(lengthOn(suggestion!.content, 'twitter')).toBeLessThanOrEqual(280);
    expect(lengthOn({ ...suggestion!.content, body: body.slice(0, shortened.length + 5) + '…' }, 'twitter')).toBeGreaterThan(
      280,
    );
  });

  it('fits the strictest platform', () => {
    const long = Array.from({ length: 500 }, (_, i) => `mot${i}`).join(' ');
    const suggestion = validate(withContent({ body: long }), ['google_business', 'instagram']).suggestion!;
    expect(lengthOn(suggestion.content, 'google_business')).toBeLessThanOrEqual(1_500);
    expect(lengthOn(suggestion.content, 'google_business')).toBeGreaterThan(1_480);
  });

  it('drops hashtags from the end only when not even the body’s first word fits', () => {
    const tags = Array.from({ length: 30 }, (_, i) => `hashtag_numero_${i}`);
    const suggestion = validate(withContent({ body, hashtags: tags }), ['twitter']).suggestion!;
    expect(suggestion.content.body).toMatch(/^mot0(…| mot1)/);
    expect(suggestion.content.hashtags).toEqual(tags.slice(0, suggestion.content.hashtags.length));
    expect(suggestion.content.hashtags.length).toBeLessThan(30);
    expect(validate(suggestion.content, ['twitter']).valid).toBe(true);
  });

  it('cuts a word in the middle only when it is longer than the limit', () => {
    const suggestion = validate(withContent({ title: '', hashtags: [], body: 'x'.repeat(400) }), ['twitter']).suggestion!;
    expect(suggestion.content.body).toBe(`${'x'.repeat(278)}…`);
  });
});

// ---- properties ---------------------------------------------------------------------------------------------------

const word = fc.oneof(
  { weight: 10, arbitrary: fc.constantFrom('pizza', 'soirée', 'menu', 'à', 'déjeuner', 'été', '!', 'fête', 'jazz') },
  { weight: 2, arbitrary: fc.constantFrom('🍕', '👨‍👩‍👧', '日本料理', 'café\u0301', '#jazz', '#Été_2025', '＃menu') },
  { weight: 1, arbitrary: fc.webUrl() },
  {
    weight: 1,
    arbitrary: fc.string({ unit: fc.constantFrom('a', 'é', '日', '🍕'), minLength: 1, maxLength: 400, size: 'max' }),
  },
);
const separator = fc.constantFrom(' ', ' ', ' ', '\n', '  ', '\n\n');
/** Short texts, and long ones that exceed the smaller limits (X 280, Google 1,500, Instagram 2,200). */
const text = (maxWords: number) =>
  fc
    .array(fc.tuple(word, separator), { maxLength: maxWords, size: maxWords > 20 ? 'max' : 'small' })
    .map((parts) => parts.map(([w, s]) => w + s).join(''));
const limitUnits = (value: string, max: number): string => {
  let result = '';
  for (const point of value) {
    if (result.length + point.length > max) break;
    result += point;
  }
  return result;
};
const hashtag = fc
  .tuple(
    fc.boolean(),
    fc.string({ unit: fc.constantFrom('a', 'b', 'z', 'A', 'é', '_', '9', '日'), minLength: 1, maxLength: 20 }),
  )
  .map(([withHash, tag]) => (withHash ? `#${tag}` : tag));
const mediaUrl = fc.oneof({ weight: 3, arbitrary: fc.nat(50).map(image) }, { weight: 1, arbitrary: fc.nat(50).map(video) });
const contentArbitrary: fc.Arbitrary<PublicationContent> = fc
  .record({
    title: fc.oneof(fc.constant(''), text(5), text(60)).map((t) => limitUnits(t, 300)),
    body: fc.oneof(text(12), text(700)).map((t) => limitUnits(t, 10_000)),
    media_urls: fc.oneof(fc.array(mediaUrl, { maxLength: 2 }), fc.array(mediaUrl, { maxLength: 14 })),
    hashtags: fc.oneof(fc.array(hashtag, { maxLength: 5 }), fc.array(hashtag, { minLength: 20, maxLength: 30 })),
  })
  .map((c) => publicationContentSchema.parse(c));
const platformsArbitrary = fc.shuffledSubarray([...publicationPlatforms]);

/** The body's first word, as the least a shortened body keeps. */
const firstWordOf = (body: string): string => {
  const words = body.split(/\s+/u).filter((w) => w !== '');
  return words.length > 1 ? `${words[0]}…` : (words[0] ?? '');
};

describe('validatePublication: properties', () => {
  it('gives a suggestion that validates, on the platforms asked minus those dropped', () => {
    fc.assert(
      fc.property(contentArbitrary, platformsArbitrary, (c, platforms) => {
        const result = validatePublication({ content: c, platforms });
        expect(result.valid).toBe(result.violations.length === 0);
        if (result.valid) {
          expect(result.suggestion).toBeNull();
          return;
        }
        const suggestion = result.suggestion;
        if (suggestion === null) return;
        expect(suggestion.platforms.length).toBeGreaterThan(0);
        expect([...suggestion.platforms, ...suggestion.dropped_platforms.map((d) => d.platform)].sort()).toEqual(
          [...platforms].sort(),
        );
        expect(validatePublication(suggestion).violations).toEqual([]);
        expect(publicationContentSchema.safeParse(suggestion.content).success).toBe(true);
        const hadSomething = c.body.trim() !== '' || c.media_urls.length > 0;
        const hasSomething = suggestion.content.body.trim() !== '' || suggestion.content.media_urls.length > 0;
        if (hadSomething) expect(hasSomething).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('is valid with no suggestion when every platform accepts the content', () => {
    fc.assert(
      fc.property(contentArbitrary, platformsArbitrary, (c, platforms) => {
        const valid = platforms.every((p) => validatePublication({ content: c, platforms: [p] }).valid);
        expect(validatePublication({ content: c, platforms })).toEqual(
          valid ? { valid: true, violations: [], suggestion: null } : expect.objectContaining({ valid: false }),
        );
      }),
    );
  });

  it('shortens at a word boundary unless a single word is longer than the limit', () => {
    fc.assert(
      fc.property(contentArbitrary, platformsArbitrary, (c, platforms) => {
        const suggestion = validatePublication({ content: c, platforms }).suggestion;
        if (suggestion === null || suggestion.content.body === c.body) return;
        const original = c.body.trim();
        const shortened = suggestion.content.body;
        expect(shortened.endsWith('…')).toBe(true);
        const kept = shortened.slice(0, -1);
        expect(original.startsWith(kept)).toBe(true);
        const atBoundary = /\s/u.test(original.charAt(kept.length));
        if (!atBoundary) {
          expect(kept).not.toMatch(/\s/u);
          const alone: PublicationContent = { ...c, title: '', hashtags: [], body: firstWordOf(original) };
          const tooLong = suggestion.platforms.some((p) => lengthOn(alone, p) > platformRules[p].text.maxLength);
          expect(tooLong).toBe(true);
        }
      }),
      { numRuns: 300 },
    );
  });
});
