/**
 * The config reference (docs/config-reference.md and the README's reference section), generated from
 * the schema so it cannot drift from what the validator accepts. `npm run docs:config` rewrites both;
 * a test fails when the committed copies differ.
 */
import { z } from 'zod';
import { configSchema } from './schema.js';

interface JsonSchema {
  type?: string;
  description?: string;
  default?: unknown;
  enum?: unknown[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  minimum?: number;
  maximum?: number;
}

function typeOf(schema: JsonSchema): string {
  if (schema.enum) return schema.enum.map((v) => `\`${String(v)}\``).join(' \\| ');
  if (schema.anyOf) return schema.anyOf.map(typeOf).join(' or ');
  if (schema.type === 'array') return `list of ${schema.items ? typeOf(schema.items) : 'values'}`;
  if (schema.type === 'object') return 'mapping';
  if (schema.type === 'integer' && schema.minimum !== undefined && schema.maximum !== undefined && schema.maximum < 1e9) return `integer ${schema.minimum}-${schema.maximum}`;
  return schema.type ?? 'value';
}

function defaultOf(schema: JsonSchema): string {
  if (schema.default === undefined || typeof schema.default === 'object') return '';
  return `\`${JSON.stringify(schema.default)}\``;
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

function section(path: string, schema: JsonSchema, out: string[]): void {
  const properties = schema.properties ?? {};
  out.push(`### \`${path}\``, '', schema.description ?? '', '', '| Key | Type | Required | Default | Meaning |', '| --- | --- | --- | --- | --- |');
  const nested: [string, JsonSchema][] = [];
  for (const [key, child] of Object.entries(properties)) {
    const required = schema.required?.includes(key) && child.default === undefined ? 'yes' : '';
    out.push(`| \`${key}\` | ${cell(typeOf(child))} | ${required} | ${cell(defaultOf(child))} | ${cell(child.description ?? '')} |`);
    if (child.type === 'object') nested.push([`${path === '(top level)' ? '' : `${path}.`}${key}`, child]);
    if (child.type === 'array' && child.items?.type === 'object') nested.push([`${path === '(top level)' ? '' : `${path}.`}${key}[]`, child.items]);
  }
  out.push('');
  for (const [childPath, child] of nested) section(childPath, child, out);
}

/** The reference as Markdown, starting at heading level 3 sections. */
export function configReferenceMarkdown(): string {
  const schema = z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
  const out: string[] = [
    'Generated from `src/config/schema.ts` by `npm run docs:config`; do not edit by hand.',
    '',
    'Durations are seconds as a number, or a string: `500ms`, `30s`, `2m`, `1h`, or IIS\'s `hh:mm:ss`. Relative file paths are relative to the config file\'s folder. Header names set to `""` turn that header off.',
    '',
  ];
  section('(top level)', schema, out);
  return out.join('\n');
}
