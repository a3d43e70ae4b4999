/**
 * What a rule is compiled into, once, when the config loads: wildcards become Wildcard matchers,
 * regular expressions become RegExp objects, and `{R:1}`-style templates become lists of parts.
 * Nothing here runs per request; match.ts and action.ts use the results. It imports nothing: the config's
 * checks (config/rules-schema.ts) use the same parsers, and compile-rules.ts builds a site's rules with them.
 *
 * Wildcards are matched by a linear-time algorithm rather than translated to a regular expression: a
 * pattern with several `*` compiled to `(.*)` groups backtracks polynomially on a long path that almost
 * matches, and the path is the client's to choose.
 */

/** The server variables a template may name, besides `{R:n}`. */
export const TEMPLATE_VARIABLES = ['HTTP_HOST', 'REQUEST_URI', 'HTTPS'] as const;
export type TemplateVariable = (typeof TEMPLATE_VARIABLES)[number];

export type TemplatePart =
  | { readonly kind: 'text'; readonly text: string }
  | { readonly kind: 'capture'; readonly index: number }
  | { readonly kind: 'variable'; readonly name: TemplateVariable };

/** A URL with `{R:n}` captures and server variables, parsed. */
export interface Template {
  /** As written in the config. */
  readonly source: string;
  readonly parts: readonly TemplatePart[];
  /** The highest `{R:n}` it uses; -1 when none. */
  readonly maxCapture: number;
}

/** Something a path condition can be: a Wildcard, or a RegExp (`pathPattern`). */
export interface PathMatcher {
  /** The captures ([0] the whole match, then {R:1}, …), or null. Allocates only on a match. */
  exec(input: string): readonly (string | undefined)[] | null;
}

const A = 65;
const Z = 90;
const STAR = 42;
const QUESTION = 63;

/**
 * An IIS wildcard: `*` any run of characters (each `*` a capture when captures are on), `?` one
 * character, everything else literal; the whole input must match. Case-insensitive for ASCII letters
 * unless told otherwise.
 */
export class Wildcard implements PathMatcher {
  readonly source: string;
  /** Number of `*` (the captures it makes when `captures` is on). */
  readonly stars: number;
  readonly #pattern: string;
  readonly #ignoreCase: boolean;
  /** Star ordinal at each pattern position (for capture spans). */
  readonly #ordinal: Int32Array;
  /** Scratch span per star, [start, end] pairs: reused by every call (the request path is synchronous). */
  readonly #spans: Int32Array;

  constructor(source: string, ignoreCase = true) {
    this.source = source;
    this.#ignoreCase = ignoreCase;
    this.#pattern = ignoreCase ? asciiLower(source) : source;
    this.#ordinal = new Int32Array(source.length);
    let stars = 0;
    for (let i = 0; i < source.length; i++) if (source.charCodeAt(i) === STAR) this.#ordinal[i] = stars++;
    this.stars = stars;
    this.#spans = new Int32Array(stars * 2);
  }

  /** Whether `input[start, end)` matches. Allocates nothing. */
  test(input: string, start = 0, end = input.length): boolean {
    const pattern = this.#pattern;
    const length = pattern.length;
    const ignoreCase = this.#ignoreCase;
    const spans = this.#spans;
    const ordinal = this.#ordinal;
    let p = 0;
    let s = start;
    let starP = -1;
    let starS = -1;
    while (s < end) {
      const pc = p < length ? pattern.charCodeAt(p) : -1;
      if (pc === STAR) {
        const k = ordinal[p] as number;
        spans[2 * k] = s;
        spans[2 * k + 1] = s;
        starP = p++;
        starS = s;
        continue;
      }
      if (pc !== -1) {
        let c = input.charCodeAt(s);
        if (ignoreCase && c >= A && c <= Z) c += 32;
        if (pc === QUESTION || pc === c) {
          p++;
          s++;
          continue;
        }
      }
      if (starP < 0) return false;
      // Give the last star one more character and retry from just after it.
      p = starP + 1;
      s = ++starS;
      spans[2 * (ordinal[starP] as number) + 1] = s;
    }
    while (p < length && pattern.charCodeAt(p) === STAR) {
      const k = ordinal[p] as number;
      spans[2 * k] = end;
      spans[2 * k + 1] = end;
      p++;
    }
    return p === length;
  }

  /** [whole input, capture of each `*`…], or null. */
  exec(input: string): string[] | null {
    if (!this.test(input)) return null;
    const out: string[] = [input];
    const spans = this.#spans;
    for (let k = 0; k < this.stars; k++) out.push(input.slice(spans[2 * k] as number, spans[2 * k + 1] as number));
    return out;
  }
}

function asciiLower(text: string): string {
  return text.replace(/[A-Z]/g, (c) => String.fromCharCode(c.charCodeAt(0) + 32));
}

/** A `pathPattern`: the RegExp, or the engine's message when it is not a valid regular expression. */
export function compilePattern(source: string, ignoreCase: boolean): { regex: RegExp; groups: number } | { error: string } {
  try {
    const regex = new RegExp(source, ignoreCase ? 'i' : '');
    // An alternative that matches '' makes exec succeed and report every group (as undefined).
    const groups = (new RegExp(`(?:${source})|`).exec('') as RegExpExecArray).length - 1;
    return { regex, groups };
  } catch (error) {
    return { error: (error as Error).message };
  }
}

/** A rule's path condition as declared: a wildcard (`path`) or a regular expression (`pathPattern`). */
export interface PathCondition {
  readonly path?: string | undefined;
  readonly pathPattern?: string | undefined;
  readonly ignoreCase: boolean;
}

/** A path condition compiled, with the captures it makes (beyond {R:0}); or the problem with it. */
export function compilePath(match: PathCondition): { matcher: PathMatcher | undefined; captures: number } | { error: string; key: 'path' | 'pathPattern' } {
  if (match.pathPattern !== undefined) {
    const compiled = compilePattern(match.pathPattern, match.ignoreCase);
    if ('error' in compiled) return { error: compiled.error, key: 'pathPattern' };
    return { matcher: compiled.regex, captures: compiled.groups };
  }
  if (match.path !== undefined) {
    const wildcard = new Wildcard(match.path, match.ignoreCase);
    return { matcher: wildcard, captures: wildcard.stars };
  }
  return { matcher: undefined, captures: 0 };
}

const SAFE_URL_CHAR = /[^A-Za-z0-9\-._~:/?#[\]@!$&'()*+,;=%]/;

/**
 * Percent-encodes (UTF-8) what may not appear in a URL as is: spaces, controls, `"<>\^`{|}` and
 * non-ASCII characters. `%` is kept: what is left of the path's own escapes stays as it was.
 */
export function encodeUrlText(text: string): string {
  if (!SAFE_URL_CHAR.test(text)) return text;
  let out = '';
  for (const char of text) out += SAFE_URL_CHAR.test(char) ? encodeURIComponent(char) : char;
  return out;
}

const TOKEN = /\{([^{}]*)\}/g;

/**
 * Parses a template: `{R:n}` (a capture of the path condition; `{R:0}` the whole match), `{HTTP_HOST}`,
 * `{REQUEST_URI}` (the original path and query) and `{HTTPS}` (`on` or `off`); names are
 * case-insensitive. `captures` is how many the rule's path condition makes. Returns the reason when the
 * template is not valid.
 */
export function parseTemplate(source: string, captures: number): Template | { error: string } {
  const parts: TemplatePart[] = [];
  let maxCapture = -1;
  let last = 0;
  const text = (raw: string): string | undefined => {
    if (raw.includes('{') || raw.includes('}')) return undefined;
    return encodeUrlText(raw);
  };
  for (const token of source.matchAll(TOKEN)) {
    const before = text(source.slice(last, token.index));
    if (before === undefined) return { error: `'{' or '}' outside a {…} variable in '${source}'` };
    if (before) parts.push({ kind: 'text', text: before });
    const name = (token[1] as string).trim();
    const capture = /^R:(\d{1,3})$/i.exec(name);
    if (capture) {
      const index = Number(capture[1]);
      if (index > captures) {
        return { error: `{${name}} refers to capture ${index}, but the path condition makes ${captures === 0 ? 'none beyond {R:0}' : `${captures} (up to {R:${captures}})`}` };
      }
      parts.push({ kind: 'capture', index });
      maxCapture = Math.max(maxCapture, index);
    } else {
      const variable = TEMPLATE_VARIABLES.find((v) => v === name.toUpperCase());
      if (!variable) return { error: `unknown variable {${name}} (expected {R:n}, ${TEMPLATE_VARIABLES.map((v) => `{${v}}`).join(', ')})` };
      parts.push({ kind: 'variable', name: variable });
    }
    last = token.index + token[0].length;
  }
  const rest = text(source.slice(last));
  if (rest === undefined) return { error: `'{' or '}' outside a {…} variable in '${source}'` };
  if (rest) parts.push({ kind: 'text', text: rest });
  return { source, parts, maxCapture };
}

/** A thumbprint as written (hex, any case, colons or spaces allowed) → SHA-1 (upper-case) or SHA-256 (lower-case) form; undefined when it is neither. */
export function normalizeThumbprint(text: string): { sha1: string } | { sha256: string } | undefined {
  const hex = text.replace(/[:\s]/g, '');
  if (!/^[0-9A-Fa-f]+$/.test(hex)) return undefined;
  if (hex.length === 40) return { sha1: hex.toUpperCase() };
  if (hex.length === 64) return { sha256: hex.toLowerCase() };
  return undefined;
}
