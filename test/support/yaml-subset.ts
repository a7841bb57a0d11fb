/**
 * Reads the block-style subset of YAML that docker-compose.yml is written in: nested mappings, lists of scalars,
 * plain and quoted scalars, comments, and flow lists or maps written as JSON. Anything else (anchors, multi-line
 * strings, a mapping inside a list item) is refused rather than misread. The project has no YAML parser among its
 * direct dependencies; this one is enough to check the compose file.
 */

export type YamlValue = string | number | boolean | null | YamlValue[] | { [key: string]: YamlValue };

interface Line {
  number: number;
  indent: number;
  text: string;
}

export function parseYamlSubset(source: string): YamlValue {
  const lines: Line[] = [];
  source.split(/\r?\n/).forEach((raw, index) => {
    const text = stripComment(raw).trimEnd();
    if (text.trim() === '') return;
    if (raw.startsWith('\t')) throw new Error(`line ${index + 1}: tabs are not allowed for indentation`);
    lines.push({ number: index + 1, indent: text.length - text.trimStart().length, text: text.trimStart() });
  });
  let next = 0;

  const block = (indent: number): YamlValue => {
    const first = lines[next];
    if (!first || first.indent < indent) return null;
    return first.text === '-' || first.text.startsWith('- ') ? sequence(first.indent) : mapping(first.indent);
  };

  const sequence = (indent: number): YamlValue[] => {
    const items: YamlValue[] = [];
    for (let line = lines[next]; line && line.indent === indent && (line.text === '-' || line.text.startsWith('- ')); line = lines[next]) {
      next++;
      const rest = line.text.slice(1).trim();
      if (rest === '') items.push(block(indent + 1));
      else if (splitKey(rest)) throw new Error(`line ${line.number}: a mapping inside a list item is outside the supported subset`);
      else items.push(scalar(rest, line.number));
    }
    return items;
  };

  const mapping = (indent: number): { [key: string]: YamlValue } => {
    const result: { [key: string]: YamlValue } = {};
    for (let line = lines[next]; line && line.indent === indent; line = lines[next]) {
      const entry = splitKey(line.text);
      if (!entry) throw new Error(`line ${line.number}: expected "key: value"`);
      if (entry.key in result) throw new Error(`line ${line.number}: duplicate key ${entry.key}`);
      next++;
      result[entry.key] = entry.value === '' ? block(indent + 1) : scalar(entry.value, line.number);
    }
    const stray = lines[next];
    if (stray && stray.indent > indent) throw new Error(`line ${stray.number}: unexpected indentation`);
    return result;
  };

  const value = block(0);
  if (next < lines.length) throw new Error(`line ${lines[next]!.number}: unexpected indentation`);
  return value;
}

/** `key: value` or `key:` (the value follows as a block); null when the text is no mapping entry. */
function splitKey(text: string): { key: string; value: string } | null {
  const quoted = /^("(?:[^"\\]|\\.)*"|'(?:[^']|'')*')\s*:(\s+|$)/.exec(text);
  if (quoted) return { key: scalar(quoted[1]!, 0) as string, value: text.slice(quoted[0].length).trim() };
  const plain = /^([^\s"'[{#&*!|>%@`-][^:]*?|-[^\s:][^:]*?)\s*:(\s+|$)/.exec(text);
  if (!plain) return null;
  return { key: plain[1]!, value: text.slice(plain[0].length).trim() };
}

function scalar(text: string, lineNumber: number): YamlValue {
  if (/^[[{]/.test(text) || text.startsWith('"')) {
    try {
      return JSON.parse(text) as YamlValue;
    } catch {
      throw new Error(`line ${lineNumber}: flow collections and double-quoted strings must be valid JSON here: ${text}`);
    }
  }
  if (text.startsWith("'")) {
    if (!text.endsWith("'") || text.length < 2) throw new Error(`line ${lineNumber}: unterminated string`);
    return text.slice(1, -1).replaceAll("''", "'");
  }
  if (/^[&*!|>%@`]/.test(text)) throw new Error(`line ${lineNumber}: ${text[0]} is outside the supported subset`);
  if (text === 'true' || text === 'false') return text === 'true';
  if (text === 'null' || text === '~') return null;
  if (/^[-+]?\d+(\.\d+)?$/.test(text)) return Number(text);
  return text;
}

/** The line without its comment: a # at the start or after a space, outside quotes. */
function stripComment(line: string): string {
  let quote: string | null = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote) {
      if (c === '\\' && quote === '"') i++;
      else if (c === quote) quote = null;
    } else if (c === '"' || c === "'") {
      if (i === 0 || /[\s:[{,-]/.test(line[i - 1]!)) quote = c;
    } else if (c === '#' && (i === 0 || /\s/.test(line[i - 1]!))) {
      return line.slice(0, i);
    }
  }
  return line;
}
