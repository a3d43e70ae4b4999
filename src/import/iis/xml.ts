/**
 * applicationHost.config as a tree: saxes parses it (refusing malformed XML with its line), each element keeps
 * its line, attributes are looked up without regard to case (as IIS's configuration system reads them), and
 * the importer marks what it read, so whatever it did not read can be reported rather than silently dropped.
 * Collections follow IIS's `<add>`/`<clear/>`/`<remove/>` semantics and `<location path="…">` sections are
 * merged over the server-level ones.
 */
import { SaxesParser } from 'saxes';

export interface XmlAttribute {
  readonly name: string;
  readonly value: string;
}

export class XmlElement {
  readonly children: XmlElement[] = [];
  /** Attribute by lower-case name (IIS reads attribute names in any case). */
  readonly attributes = new Map<string, XmlAttribute>();
  /** Set when the importer read the element (or decided about it). */
  used = false;
  /** Lower-case names of the attributes the importer read. */
  readonly usedAttributes = new Set<string>();

  constructor(
    readonly name: string,
    readonly line: number,
    readonly parent: XmlElement | undefined,
  ) {}

  /** An attribute's value (name in any case); marks it read. */
  attr(name: string): string | undefined {
    const key = name.toLowerCase();
    this.usedAttributes.add(key);
    return this.attributes.get(key)?.value;
  }

  has(name: string): boolean {
    return this.attributes.has(name.toLowerCase());
  }

  /** Marks attributes as read without using them (identifiers and lock settings with no runtime effect). */
  ignore(...names: string[]): void {
    for (const name of names) this.usedAttributes.add(name.toLowerCase());
  }

  /** The first child of that name (case-insensitive), marked read. */
  child(name: string): XmlElement | undefined {
    const found = this.children.find((c) => c.name.toLowerCase() === name.toLowerCase());
    if (found) found.used = true;
    return found;
  }

  /** Every child of that name (case-insensitive), marked read. */
  all(name: string): XmlElement[] {
    const found = this.children.filter((c) => c.name.toLowerCase() === name.toLowerCase());
    for (const c of found) c.used = true;
    return found;
  }

  /** The child at a path of names, marking each step read. */
  at(...path: string[]): XmlElement | undefined {
    let here: XmlElement | undefined = this;
    for (const name of path) here = here?.child(name);
    return here;
  }

  /** Marks this element and everything under it read (a part the importer reports as a whole). */
  consume(): void {
    this.used = true;
    for (const key of this.attributes.keys()) this.usedAttributes.add(key);
    for (const c of this.children) c.consume();
  }
}

/** The input is not readable XML or not an IIS configuration: the message names FILE:LINE. */
export class ImportInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ImportInputError';
  }
}

/** Parses the XML text; the root must be `<configuration>`. */
export function parseXml(text: string, file: string): XmlElement {
  // saxes reports text before the root only where the document ends; a file that does not start like XML is named at once.
  const first = /\S/.exec(text.replace(/^\uFEFF/, ''));
  if (first && first[0] !== '<') {
    const line = text.slice(0, first.index + 1).split('\n').length;
    throw new ImportInputError(`${file}:${line} (XML): not XML: it starts with '${first[0]}' (expected applicationHost.config, an XML file whose root element is <configuration>)`);
  }
  const parser = new SaxesParser({ position: true });
  let root: XmlElement | undefined;
  let current: XmlElement | undefined;
  let failure: string | undefined;
  parser.on('error', (error) => {
    if (failure === undefined) {
      const m = /^(\d+):(\d+): (.*)$/s.exec(error.message);
      failure = m ? `${file}:${m[1]} (XML): ${m[3]}` : `${file}:${parser.line} (XML): ${error.message}`;
    }
  });
  // saxes never expands a DOCTYPE's entities (nor fetches external ones); it would only say "undefined entity" where one is used.
  parser.on('doctype', (doctype) => {
    if (failure === undefined && /<!ENTITY/i.test(doctype)) failure = `${file}:${parser.line} (XML): the DOCTYPE declares entities, which Gatehouse does not expand or fetch (applicationHost.config as IIS writes it has none)`;
  });
  parser.on('opentag', (tag) => {
    const element = new XmlElement(tag.name, parser.line, current);
    for (const [name, value] of Object.entries(tag.attributes as Record<string, string>)) {
      element.attributes.set(name.toLowerCase(), { name, value });
    }
    if (current) current.children.push(element);
    else root = element;
    current = element;
  });
  parser.on('closetag', () => {
    current = current?.parent;
  });
  try {
    parser.write(text).close();
  } catch (error) {
    failure ??= `${file}:${parser.line} (XML): ${(error as Error).message}`;
  }
  if (failure !== undefined) throw new ImportInputError(`${failure} (expected well-formed XML: applicationHost.config)`);
  if (!root) throw new ImportInputError(`${file}:1 (XML): no element (expected applicationHost.config, whose root element is <configuration>)`);
  if (root.name !== 'configuration') {
    throw new ImportInputError(`${file}:${root.line} <${root.name}>: not an IIS configuration (expected applicationHost.config, whose root element is <configuration>)`);
  }
  root.used = true;
  return root;
}

/** IIS's path of an element for report lines: `webFarm[@name='appFarm']/applicationRequestRouting/healthCheck`. */
export function elementPath(element: XmlElement, full = false): string {
  const parts: string[] = [];
  for (let e: XmlElement | undefined = element; e && e.parent; e = e.parent) {
    const keyName = e.name === 'server' ? 'address' : e.name === 'binding' ? 'bindingInformation' : e.attributes.get('name') ? 'name' : 'path';
    const key = e.attributes.get(keyName.toLowerCase());
    parts.unshift(key ? `${e.name}[@${keyName}='${key.value}']` : e.name);
    // A named item is enough context: `webFarm[@name='x']/…`, `site[@name='y']/…`.
    if (!full && key && e.name !== 'add' && e.name !== 'location' && e.name !== 'binding') break;
  }
  return parts.join('/');
}

/**
 * The items of an IIS collection after `<clear/>` and `<remove/>`: `chain` is the collection element at each
 * level (server level first, then `<location>` levels), `item` the add element's name (`add`, `rule`,
 * `webFarm`, …), `key` the attribute(s) that identify an item. A later `<add>` with the key of an earlier one
 * replaces it (IIS refuses duplicates; the last one is what an editor meant).
 */
export function collection(chain: readonly (XmlElement | undefined)[], item: string, key: readonly string[]): XmlElement[] {
  const items: XmlElement[] = [];
  const keyOf = (e: XmlElement) => key.map((k) => (e.attr(k) ?? '').toLowerCase()).join('|');
  for (const level of chain) {
    if (!level) continue;
    level.used = true;
    for (const c of level.children) {
      const name = c.name.toLowerCase();
      if (name === 'clear') {
        c.consume();
        for (const removed of items.splice(0)) removed.consume();
      } else if (name === 'remove') {
        c.consume();
        const k = keyOf(c);
        const at = items.findIndex((e) => keyOf(e) === k);
        if (at >= 0) items.splice(at, 1)[0]?.consume();
      } else if (name === item.toLowerCase()) {
        c.used = true;
        const k = keyOf(c);
        const at = items.findIndex((e) => keyOf(e) === k);
        if (at >= 0) items.splice(at, 1, c)[0]?.consume();
        else items.push(c);
      }
    }
  }
  return items;
}

/** The last value of an attribute along a chain (server level, then `<location>` levels), with its element. */
export function mergedAttr(chain: readonly (XmlElement | undefined)[], name: string): { value: string; element: XmlElement } | undefined {
  let found: { value: string; element: XmlElement } | undefined;
  for (const level of chain) {
    if (!level) continue;
    const value = level.attr(name);
    if (value !== undefined) found = { value, element: level };
  }
  return found;
}

/** `<location path="…">` elements of the root, by the path they name (normalised: '' is the server level). */
export function locationPath(location: XmlElement): string {
  const raw = location.attr('path') ?? '';
  location.ignore('overrideMode', 'allowOverride', 'inheritInChildApplications');
  return raw.trim().replace(/^\.$/, '').replace(/\/+$/, '');
}

/**
 * A section at a path (`system.webServer`, `security`, `access`) at the server level and in the locations that
 * name `site` (case-insensitive; IIS site names are), server level first. Without `site`: the server level
 * and `<location path="">` only.
 */
export function sectionChain(root: XmlElement, path: readonly string[], site?: string): XmlElement[] {
  const chain: XmlElement[] = [...allAt(root, path)];
  // The server level (with `<location path="">`) first, wherever the locations stand in the file; then the site's.
  const locations = root.all('location').map((l) => ({ l, where: locationPath(l) }));
  for (const level of [(w: string) => w === '', (w: string) => site !== undefined && w.toLowerCase() === site.toLowerCase()]) {
    for (const { l, where } of locations) {
      if (!level(where)) continue;
      chain.push(...allAt(l, path));
    }
  }
  return chain;
}

/** Every element at a path of names (a section may be written more than once), marking each step read. */
export function allAt(from: XmlElement, path: readonly string[]): XmlElement[] {
  let level = [from];
  for (const name of path) level = level.flatMap((e) => e.all(name));
  return level;
}

/** Elements the importer never read (the topmost of each unread part), and unread attributes of read ones. */
export function unread(root: XmlElement): { element: XmlElement; attribute?: string }[] {
  const out: { element: XmlElement; attribute?: string }[] = [];
  const walk = (e: XmlElement) => {
    if (!e.used) {
      // An empty element (`<asp />`) states IIS's defaults: nothing is lost.
      if (e.attributes.size > 0 || e.children.length > 0) out.push({ element: e });
      return;
    }
    for (const [key, a] of e.attributes) if (!e.usedAttributes.has(key) && !key.startsWith('xmlns')) out.push({ element: e, attribute: a.name });
    for (const c of e.children) walk(c);
  };
  walk(root);
  return out;
}
