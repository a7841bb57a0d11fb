/**
 * The plain-text part of an e-mail, derived from its HTML when the template has no body_text: tags stripped, links kept
 * as "label (url)", paragraphs, headings, list items and <br> as line breaks, entities decoded. Small on purpose: the
 * templates are short, hand-written HTML, not arbitrary web pages.
 */

const blockTags = 'p|div|h[1-6]|ul|ol|table|blockquote|section|article|header|footer|main|nav|aside|address|pre|form|fieldset|figure|figcaption|dl';
// Compiled once: this runs for every e-mail sent without a body_text.
const blockTagPattern = new RegExp(`</?(?:${blockTags})\\b[^>]*>`, 'gi');
const attributePatterns = new Map<string, RegExp>();

export function htmlToText(html: string): string {
  let text = html
    // What never shows: comments, doctype, head, scripts, styles.
    .replace(/<!--[\s\S]*?-->/g, '')
    .replace(/<!(?:doctype)?[^>]*>/gi, '')
    .replace(/<(head|script|style|title|template)\b[^>]*>[\s\S]*?<\/\1\s*>/gi, '')
    // HTML collapses white space; line breaks come from the markup only.
    .replace(/\s+/g, ' ')
    .replace(/<a\b([^>]*)>([\s\S]*?)<\/a\s*>/gi, (_match, attributes: string, label: string) => link(attributes, label))
    .replace(/<img\b([^>]*)>/gi, (_match, attributes: string) => attribute(attributes, 'alt') ?? '')
    .replace(/<br\s*\/?>/gi, '\n')
    .replace(/<hr\b[^>]*>/gi, '\n\n---\n\n')
    .replace(/<li\b[^>]*>/gi, '\n- ')
    .replace(/<\/li\s*>/gi, '')
    .replace(/<\/t[dh]\s*> ?(?=<t[dh]\b)/gi, '\t')
    .replace(/<(?:tr|dt|dd)\b[^>]*>/gi, '\n')
    .replace(/<\/(?:tr|dt|dd)\s*>/gi, '')
    .replace(blockTagPattern, '\n\n')
    .replace(/<\/?[a-z][^>]*>/gi, '');
  text = decodeEntities(text);
  return text
    .split('\n')
    .map((line) => line.replace(/[ \t\u00a0]+$/g, '').replace(/^[ \t]+/g, '').replace(/ {2,}/g, ' '))
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

/** "label (url)"; just the label when the link is the label itself, an anchor, or empty. */
function link(attributes: string, label: string): string {
  const rawHref = attribute(attributes, 'href', false);
  const labelText = label.replace(/<[^>]*>/g, '').trim();
  if (!rawHref) return label;
  const href = decodeEntities(rawHref).trim();
  if (href === '' || href.startsWith('#') || /^javascript:/i.test(href)) return label;
  const shown = href.replace(/^mailto:/i, '').replace(/^tel:/i, '');
  const plainLabel = decodeEntities(labelText);
  if (plainLabel === '') return rawHref.replace(/^(mailto|tel):/i, '');
  if (plainLabel === href || plainLabel === shown || plainLabel === href.replace(/^https?:\/\//i, '').replace(/\/$/, '')) return label;
  // The raw (still encoded) href goes back into the text: entities are decoded once, at the end.
  return `${label} (${rawHref.trim().replace(/^(mailto|tel):/i, '')})`;
}

function attribute(attributes: string, name: string, decode = true): string | undefined {
  let pattern = attributePatterns.get(name);
  if (!pattern) {
    pattern = new RegExp(`(?:^|\\s)${name}\\s*=\\s*(?:"([^"]*)"|'([^']*)'|([^\\s"'>]+))`, 'i');
    attributePatterns.set(name, pattern);
  }
  const match = pattern.exec(attributes);
  if (!match) return undefined;
  const value = match[1] ?? match[2] ?? match[3] ?? '';
  return decode ? decodeEntities(value) : value;
}

const namedEntities: Record<string, string> = {
  amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0', ensp: '\u2002', emsp: '\u2003', thinsp: '\u2009',
  euro: '€', pound: '£', cent: '¢', yen: '¥', copy: '©', reg: '®', trade: '™', deg: '°', sect: '§', para: '¶',
  middot: '·', bull: '•', hellip: '…', ndash: '–', mdash: '—', lsquo: '‘', rsquo: '’', sbquo: '‚', ldquo: '“',
  rdquo: '”', bdquo: '„', laquo: '«', raquo: '»', lsaquo: '‹', rsaquo: '›', times: '×', divide: '÷', frac12: '½',
  frac14: '¼', frac34: '¾', sup2: '²', sup3: '³', ordf: 'ª', ordm: 'º', iexcl: '¡', iquest: '¿', shy: '',
  agrave: 'à', aacute: 'á', acirc: 'â', atilde: 'ã', auml: 'ä', aring: 'å', aelig: 'æ', ccedil: 'ç', egrave: 'è',
  eacute: 'é', ecirc: 'ê', euml: 'ë', igrave: 'ì', iacute: 'í', icirc: 'î', iuml: 'ï', ntilde: 'ñ', ograve: 'ò',
  oacute: 'ó', ocirc: 'ô', otilde: 'õ', ouml: 'ö', oslash: 'ø', oelig: 'œ', ugrave: 'ù', uacute: 'ú', ucirc: 'û',
  uuml: 'ü', yacute: 'ý', yuml: 'ÿ', szlig: 'ß',
  Agrave: 'À', Aacute: 'Á', Acirc: 'Â', Atilde: 'Ã', Auml: 'Ä', Aring: 'Å', AElig: 'Æ', Ccedil: 'Ç', Egrave: 'È',
  Eacute: 'É', Ecirc: 'Ê', Euml: 'Ë', Igrave: 'Ì', Iacute: 'Í', Icirc: 'Î', Iuml: 'Ï', Ntilde: 'Ñ', Ograve: 'Ò',
  Oacute: 'Ó', Ocirc: 'Ô', Otilde: 'Õ', Ouml: 'Ö', Oslash: 'Ø', OElig: 'Œ', Ugrave: 'Ù', Uacute: 'Ú', Ucirc: 'Û',
  Uuml: 'Ü', Yacute: 'Ý', Yuml: 'Ÿ',
};

/** Decodes named (the common ones), decimal and hexadecimal character references; unknown names stay as written. */
export function decodeEntities(text: string): string {
  return text.replace(/&(?:#(\d{1,7})|#[xX]([0-9a-fA-F]{1,6})|([a-zA-Z][a-zA-Z0-9]{1,31}));/g, (match, dec?: string, hex?: string, name?: string) => {
    if (name !== undefined) return Object.hasOwn(namedEntities, name) ? namedEntities[name]! : match;
    const code = dec !== undefined ? Number(dec) : parseInt(hex!, 16);
    if (code === 0 || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return '\ufffd';
    return String.fromCodePoint(code);
  });
}
