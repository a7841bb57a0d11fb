import Handlebars from 'handlebars';
import { DomainError } from '../../../domain/domain-error.js';
import { frenchHelpers, HelperValueError, helperNames, MissingHelperArgument, type HelperLocation } from './helpers.js';
import { htmlToText } from './html-to-text.js';

/**
 * The notification template engine (Handlebars), with the rules that keep a guest from receiving a broken message:
 *
 * - strict mode: a variable the data lacks is an error (TemplateRenderError, code missing_variable, naming the variable,
 *   the template and the field), never a blank in an e-mail;
 * - body_html is HTML-escaped ({{x}}), always: raw output ({{{x}}}, {{& x}}) is refused when the template is published,
 *   since a value in the data (a name, a note) would otherwise reach the e-mail as markup.
 *   The plain-text fields (subject, body_text, sms, push) are not HTML, so they are not escaped: an SMS must read
 *   "l'apéritif", not "l&#x27;apéritif";
 * - only the known helpers (if, unless, each, with, lookup and the French helpers of helpers.ts); partials, decorators
 *   and log are refused when the template is published;
 * - no prototype access (allowProtoPropertiesByDefault / allowProtoMethodsByDefault false): {{constructor}} and the
 *   like resolve to nothing;
 * - each template version is compiled once and cached by template id and version (versions are immutable).
 */

export const templateFields = ['subject', 'body_html', 'body_text', 'sms', 'push.title', 'push.body'] as const;
export type TemplateField = (typeof templateFields)[number];

/** The Handlebars sources of one template version, in the specification's format. */
export interface TemplateSource {
  subject?: string | null;
  body_html?: string | null;
  body_text?: string | null;
  sms?: string | null;
  push?: { title: string; body: string } | null;
}

export interface RenderedTemplate {
  subject?: string;
  html?: string;
  /** body_text, or derived from the HTML when the template has no body_text. */
  text?: string;
  sms?: string;
  push?: { title: string; body: string };
}

export interface TemplateSourceProblem {
  path: TemplateField;
  message: string;
}

export type TemplateRenderErrorCode = 'missing_variable' | 'invalid_value' | 'empty_output' | 'render_failed';

/** Rendering failed: which template, version and field, and (missing_variable, invalid_value) which variable. */
export class TemplateRenderError extends DomainError {
  declare readonly code: TemplateRenderErrorCode;
  readonly templateId: string;
  readonly version: number;
  readonly field: TemplateField;
  /** The variable's path in the data, e.g. customer.first_name, or menu_items[].price inside an {{#each}}. */
  readonly variable: string | undefined;
  readonly line: number | undefined;
  readonly column: number | undefined;

  constructor(
    code: TemplateRenderErrorCode,
    message: string,
    where: { templateId: string; version: number; field: TemplateField; variable?: string; line?: number; column?: number },
  ) {
    const at = where.line !== undefined ? `${where.field}, line ${where.line}, column ${where.column ?? 1}` : where.field;
    super(code, `Template ${where.templateId} v${where.version} (${at}): ${message}`, [
      { path: where.variable !== undefined ? `data.${where.variable}` : where.field, message: `${message} (${at})` },
    ]);
    this.name = 'TemplateRenderError';
    this.templateId = where.templateId;
    this.version = where.version;
    this.field = where.field;
    this.variable = where.variable;
    this.line = where.line;
    this.column = where.column;
  }
}

/** A source that does not compile; details name each field (body_html, push.title…) and say why. */
export class TemplateCompileError extends DomainError {
  constructor(
    readonly templateId: string,
    readonly version: number,
    problems: TemplateSourceProblem[],
  ) {
    super(
      'template_does_not_compile',
      `Template ${templateId} v${version} does not compile: ${problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`,
      problems,
    );
    this.name = 'TemplateCompileError';
  }
}

// ---- Handlebars environment ----------------------------------------------------------------------------------------

const hb = Handlebars.create();
hb.unregisterHelper('log');
hb.registerHelper(frenchHelpers);

const builtinHelpers = ['if', 'unless', 'each', 'with', 'lookup'];
const knownHelpers = Object.fromEntries([...builtinHelpers, ...helperNames].map((name) => [name, true]));

const compileOptions = (escape: boolean): CompileOptions => ({
  strict: true,
  knownHelpersOnly: true,
  knownHelpers: { ...knownHelpers, log: false },
  noEscape: !escape,
});

const runtimeOptions: RuntimeOptions = {
  allowProtoPropertiesByDefault: false,
  allowProtoMethodsByDefault: false,
  allowCallsToHelperMissing: false,
};

/** The fields present in a source, each with its text and whether it is HTML (escaped). */
function fieldsOf(source: TemplateSource): { field: TemplateField; text: string; html: boolean }[] {
  const fields: { field: TemplateField; text: string; html: boolean }[] = [];
  const add = (field: TemplateField, text: string | null | undefined, html = false) => {
    if (typeof text === 'string') fields.push({ field, text, html });
  };
  add('subject', source.subject);
  add('body_html', source.body_html, true);
  add('body_text', source.body_text);
  add('sms', source.sms);
  add('push.title', source.push?.title);
  add('push.body', source.push?.body);
  return fields;
}

// ---- source analysis ------------------------------------------------------------------------------------------------

type Node = hbs.AST.Node;
interface PathUse {
  node: hbs.AST.PathExpression;
  /** Where it reads from: the enclosing {{#each}} / {{#with}} blocks, e.g. ['menu_items[]']. */
  scope: string[];
}
interface Call {
  node: hbs.AST.MustacheStatement | hbs.AST.SubExpression | hbs.AST.BlockStatement;
  scope: string[];
}
interface Analysis {
  paths: PathUse[];
  calls: Call[];
  problems: string[];
}

/** Walks the AST once: variables read (with their scope), helper calls, and constructs the engine refuses. */
function analyse(program: hbs.AST.Program): Analysis {
  const analysis: Analysis = { paths: [], calls: [], problems: [] };
  const visit = (node: Node | null | undefined, scope: string[]): void => {
    if (!node) return;
    switch (node.type) {
      case 'Program':
        for (const statement of (node as hbs.AST.Program).body) visit(statement, scope);
        return;
      case 'MustacheStatement':
      case 'SubExpression': {
        const call = node as hbs.AST.MustacheStatement | hbs.AST.SubExpression;
        analysis.calls.push({ node: call, scope });
        visit(call.path, scope);
        for (const param of call.params) visit(param, scope);
        visit(call.hash, scope);
        return;
      }
      case 'BlockStatement': {
        const block = node as hbs.AST.BlockStatement;
        analysis.calls.push({ node: block, scope });
        visit(block.path, scope);
        for (const param of block.params) visit(param, scope);
        visit(block.hash, scope);
        visit(block.program, innerScope(block, scope));
        visit(block.inverse, scope);
        return;
      }
      case 'Hash':
        for (const pair of (node as hbs.AST.Hash).pairs) visit(pair.value, scope);
        return;
      case 'PathExpression':
        analysis.paths.push({ node: node as hbs.AST.PathExpression, scope });
        return;
      case 'PartialStatement':
      case 'PartialBlockStatement':
        analysis.problems.push(`partials are not available (line ${node.loc.start.line})`);
        return;
      case 'Decorator':
      case 'DecoratorBlock':
        analysis.problems.push(`decorators are not available (line ${node.loc.start.line})`);
        return;
      default:
        return;
    }
  };
  visit(program, []);
  return analysis;
}

/** {{{x}}} and {{& x}} in HTML: the value would not be escaped. */
function rawOutputProblems(analysis: Analysis): string[] {
  return analysis.calls
    .filter(({ node }) => node.type === 'MustacheStatement' && (node as hbs.AST.MustacheStatement).escaped === false)
    .map(({ node }) => `raw output ({{{…}}} or {{& …}}) is not allowed: values are always HTML-escaped (line ${node.loc.start.line})`);
}

function innerScope(block: hbs.AST.BlockStatement, scope: string[]): string[] {
  const name = block.path.original;
  const [first] = block.params;
  if ((name === 'each' || name === 'with') && first?.type === 'PathExpression') {
    const path = variableOf(first as hbs.AST.PathExpression, scope);
    return name === 'each' ? [`${path}[]`] : [path];
  }
  if (name === 'if' || name === 'unless' || block.params.length > 0) return scope;
  // A section ({{#menu}}…{{/menu}}) reads inside `menu`.
  return [variableOf(block.path, scope)];
}

/** The variable a path reads, as a path from the data's root when it can be told. */
function variableOf(path: hbs.AST.PathExpression, scope: string[]): string {
  const original = path.original.replace(/^this\.|^\.\//, '');
  if (path.data || path.depth > 0 || scope.length === 0 || original.startsWith('@')) return original.replace(/^@root\./, '');
  if (original === 'this' || original === '.') return scope.join('.');
  return [...scope, original].join('.');
}

function parseSource(text: string): hbs.AST.Program {
  return hb.parse(text);
}

function describeCompileError(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message
    .replace(/\n-*\^\n/, ' ')
    .replace(/\s*\n\s*/g, ' ')
    .replace(/ - (\d+):(\d+)$/, (_m, line: string, column: string) => ` (line ${line}, column ${Number(column) + 1})`)
    .replace(/You specified knownHelpersOnly, but used the unknown helper (\S+)/, (_m, name: string) =>
      `unknown helper "${name}"; available: ${[...builtinHelpers, ...helperNames].join(', ')}`,
    )
    .trim();
}

/**
 * Checks that every field of a source compiles, without rendering it: the Handlebars syntax, the helpers it calls, no
 * partials or decorators. Pure (no I/O): the template decider calls it before publishing a version.
 */
export function checkTemplateSource(source: TemplateSource): TemplateSourceProblem[] {
  const problems: TemplateSourceProblem[] = [];
  for (const { field, text, html } of fieldsOf(source)) {
    try {
      const ast = parseSource(text);
      const analysis = analyse(ast);
      const found = html ? [...analysis.problems, ...rawOutputProblems(analysis)] : analysis.problems;
      if (found.length > 0) {
        problems.push({ path: field, message: found.join('; ') });
        continue;
      }
      hb.precompile(ast, compileOptions(html));
    } catch (error) {
      problems.push({ path: field, message: describeCompileError(error) });
    }
  }
  return problems;
}

// ---- compiled templates -------------------------------------------------------------------------------------------

export interface CompiledTemplate {
  readonly id: string;
  readonly version: number;
  readonly source: Readonly<TemplateSource>;
  /** Renders every field the template has; throws TemplateRenderError. */
  render(data?: Record<string, unknown>): RenderedTemplate;
}

interface CompiledField {
  field: TemplateField;
  template: HandlebarsTemplateDelegate;
  analysis: Analysis;
}

function compileTemplate(id: string, version: number, source: TemplateSource): CompiledTemplate {
  const problems = checkTemplateSource(source);
  if (problems.length > 0) throw new TemplateCompileError(id, version, problems);
  const fields = new Map<TemplateField, CompiledField>();
  for (const { field, text, html } of fieldsOf(source)) {
    fields.set(field, { field, template: hb.compile(parseSource(text), compileOptions(html)), analysis: analyse(parseSource(text)) });
  }
  const frozen = Object.freeze({ ...source, push: source.push ? Object.freeze({ ...source.push }) : source.push });

  const renderField = (field: TemplateField, data: Record<string, unknown>): string | undefined => {
    const compiled = fields.get(field);
    if (!compiled) return undefined;
    let output: string;
    try {
      output = compiled.template(data, runtimeOptions);
    } catch (error) {
      throw toRenderError(error, { templateId: id, version, field }, compiled.analysis);
    }
    if (output.trim() === '') {
      throw new TemplateRenderError('empty_output', 'the field renders to nothing', { templateId: id, version, field });
    }
    return output;
  };

  return {
    id,
    version,
    source: frozen,
    render(data = {}) {
      if (typeof data !== 'object' || data === null || Array.isArray(data)) {
        throw new TemplateRenderError('invalid_value', 'the data must be an object', { templateId: id, version, field: templateFields[0] });
      }
      const result: RenderedTemplate = {};
      const subject = renderField('subject', data);
      if (subject !== undefined) result.subject = subject.replace(/\s+/g, ' ').trim();
      const html = renderField('body_html', data);
      if (html !== undefined) result.html = html;
      const text = renderField('body_text', data) ?? (html !== undefined ? htmlToText(html) : undefined);
      if (text !== undefined) result.text = text;
      const sms = renderField('sms', data);
      // Non-breaking spaces (Intl writes "12,50 €" with one) are outside the GSM alphabet: one would make the SMS UCS-2.
      if (sms !== undefined) result.sms = sms.replace(/[\u00a0\u202f\u2009]/g, ' ').trim();
      const title = renderField('push.title', data);
      const body = renderField('push.body', data);
      if (title !== undefined && body !== undefined) result.push = { title: title.trim(), body: body.trim() };
      return result;
    },
  };
}

function toRenderError(
  error: unknown,
  where: { templateId: string; version: number; field: TemplateField },
  analysis: Analysis,
): TemplateRenderError {
  if (error instanceof TemplateRenderError) return error;
  if (error instanceof HelperValueError) {
    const call = error.loc ? findCall(analysis, error.helper, error.loc) : undefined;
    const argument = call?.node.params[error.argumentIndex];
    const variable = argument?.type === 'PathExpression' ? variableOf(argument as hbs.AST.PathExpression, call!.scope) : undefined;
    const position = error.loc ? { line: error.loc.start.line, column: error.loc.start.column + 1 } : {};
    if (error instanceof MissingHelperArgument) {
      const message = variable !== undefined ? `missing variable "${variable}" (used by {{${error.helper}}})` : error.message;
      return new TemplateRenderError(variable !== undefined ? 'missing_variable' : 'invalid_value', message, { ...where, ...position, variable });
    }
    const message = variable !== undefined ? `"${variable}": ${error.message}` : `{{${error.helper}}}: ${error.message}`;
    return new TemplateRenderError('invalid_value', message, { ...where, ...position, variable });
  }
  const message = error instanceof Error ? error.message : String(error);
  const strict = /^"([^"]+)" not defined in/.exec(message);
  if (strict) {
    const { lineNumber, column } = error as { lineNumber?: number; column?: number };
    const use =
      analysis.paths.find((p) => p.node.loc.start.line === lineNumber && p.node.loc.start.column === column) ??
      analysis.paths.find((p) => p.node.parts.includes(strict[1]!));
    const variable = use ? variableOf(use.node, use.scope) : strict[1]!;
    const position = lineNumber !== undefined ? { line: lineNumber, column: (column ?? 0) + 1 } : {};
    return new TemplateRenderError('missing_variable', `missing variable "${variable}"`, { ...where, ...position, variable });
  }
  // A param whose parent is missing ({{#if customer.first_name}} without customer) fails in JavaScript, not in strict mode.
  const lookup = /Cannot read properties of (?:undefined|null) \(reading '([^']+)'\)|Cannot use 'in' operator to search for '([^']+)'/.exec(message);
  if (error instanceof TypeError && lookup) {
    const name = lookup[1] ?? lookup[2]!;
    const use = analysis.paths.find((p) => p.node.parts.indexOf(name) > 0);
    if (use) {
      const variable = variableOf(use.node, use.scope);
      const position = { line: use.node.loc.start.line, column: use.node.loc.start.column + 1 };
      const parent = use.node.parts.slice(0, use.node.parts.indexOf(name)).join('.');
      return new TemplateRenderError('missing_variable', `missing variable "${variable}" ("${parent}" is missing or not an object)`, {
        ...where,
        ...position,
        variable,
      });
    }
  }
  return new TemplateRenderError('render_failed', message, where);
}

function findCall(analysis: Analysis, helper: string, loc: HelperLocation): Call | undefined {
  const at = (node: Node) => node.loc.start.line === loc.start.line && node.loc.start.column === loc.start.column;
  return (
    analysis.calls.find((c) => c.node.path.type === 'PathExpression' && (c.node.path as hbs.AST.PathExpression).original === helper && at(c.node)) ??
    analysis.calls.find((c) => c.node.path.type === 'PathExpression' && (c.node.path as hbs.AST.PathExpression).original === helper)
  );
}

// ---- the engine: compile once per version ---------------------------------------------------------------------------

/**
 * Compiles template versions and keeps them, keyed by template id and version (a version never changes). The cache is
 * bounded (least recently used out). Compiling a different source under an id and version already cached replaces the
 * entry, so a mistake elsewhere cannot serve a stale text.
 */
export class TemplateEngine {
  private readonly cache = new Map<string, CompiledTemplate>();

  constructor(private readonly maxEntries = 1_000) {}

  compile(id: string, version: number, source: TemplateSource): CompiledTemplate {
    const key = `${id}\u0000${version}`;
    const cached = this.cache.get(key);
    if (cached && (cached.source === source || sameSource(cached.source, source))) {
      this.cache.delete(key);
      this.cache.set(key, cached);
      return cached;
    }
    const compiled = compileTemplate(id, version, source);
    this.cache.delete(key);
    this.cache.set(key, compiled);
    while (this.cache.size > this.maxEntries) this.cache.delete(this.cache.keys().next().value!);
    return compiled;
  }

  /** The compiled version if it is cached (no compilation). */
  cached(id: string, version: number): CompiledTemplate | undefined {
    return this.cache.get(`${id}\u0000${version}`);
  }

  render(id: string, version: number, source: TemplateSource, data?: Record<string, unknown>): RenderedTemplate {
    return this.compile(id, version, source).render(data);
  }

  get size(): number {
    return this.cache.size;
  }

  clear(): void {
    this.cache.clear();
  }
}

function sameSource(a: TemplateSource, b: TemplateSource): boolean {
  const norm = (s: TemplateSource) =>
    JSON.stringify([s.subject ?? null, s.body_html ?? null, s.body_text ?? null, s.sms ?? null, s.push?.title ?? null, s.push?.body ?? null]);
  return norm(a) === norm(b);
}

/** Renders a one-off source (no cache): for tests and previews of unsaved text. */
export function renderTemplate(source: TemplateSource, data: Record<string, unknown> = {}, id = 'inline', version = 0): RenderedTemplate {
  return compileTemplate(id, version, source).render(data);
}

