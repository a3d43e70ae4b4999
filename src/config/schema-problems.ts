/** Turns zod's issues into Problems whose message says what is wrong and what was expected. */
import type { z } from 'zod';
import type { Problem } from './problem.js';

function describeValue(value: unknown): string {
  if (value === undefined) return 'missing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return `'${value}'`;
  return String(value);
}

const TYPE_NAMES: Record<string, string> = {
  object: 'a mapping of keys',
  array: 'a list',
  string: 'a string',
  number: 'a number',
  int: 'an integer',
  boolean: 'true or false',
};

/** What a missing required key should hold, where the type alone says too little. */
const REQUIRED_HINTS: Record<string, string> = {
  farm: 'the name of a farm in `farms`',
  name: 'a unique name',
  port: 'a TCP port number',
  protocol: 'http or https',
  address: 'host:port of the server',
  bindings: 'a list of bindings',
  servers: 'a list of servers',
  sites: 'a list of sites',
  farms: 'a list of farms',
};

export function schemaProblems(issues: readonly z.core.$ZodIssue[]): Problem[] {
  const out: Problem[] = [];
  for (const issue of issues) {
    const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
    const input = (issue as { input?: unknown }).input;
    switch (issue.code) {
      case 'invalid_type':
        if (issue.message.includes('(expected')) {
          const [what, expected] = splitExpected(issue.message);
          out.push(expected === undefined ? { path, message: `${describeValue(input)} ${what}` } : { path, message: `${describeValue(input)} ${what}`, expected });
          break;
        }
        out.push({ path, message: input === undefined ? 'required key is missing' : `${describeValue(input)} has the wrong type`, expected: (input === undefined ? REQUIRED_HINTS[String(path[path.length - 1])] : undefined) ?? TYPE_NAMES[issue.expected] ?? issue.expected });
        break;
      case 'invalid_value':
        out.push({ path, message: `${describeValue(input)} is not allowed`, expected: `one of: ${issue.values.map(String).join(', ')}` });
        break;
      case 'unrecognized_keys':
        for (const key of issue.keys) out.push({ path, key, message: 'unknown key', expected: 'only the keys listed in docs/config-reference.md' });
        break;
      case 'too_small':
        out.push(
          issue.origin === 'array'
            ? { path, message: 'the list is empty', expected: `at least ${String(issue.minimum)} item${issue.minimum === 1 ? '' : 's'}` }
            : issue.origin === 'string'
              ? { path, message: 'empty string', expected: 'a non-empty value' }
              : { path, message: `${describeValue(input)} is too small`, expected: `at least ${String(issue.minimum)}` },
        );
        break;
      case 'too_big':
        out.push({ path, message: `${describeValue(input)} is too large`, expected: `at most ${String(issue.maximum)}` });
        break;
      case 'invalid_format':
        out.push({ path, message: `${describeValue(input)} is not valid`, expected: issue.message });
        break;
      case 'invalid_union':
        out.push({ path, message: `${describeValue(input)} has the wrong type`, expected: 'a string or a list of strings' });
        break;
      default: {
        const [what, expected] = splitExpected(issue.message);
        out.push(expected === undefined ? { path, message: `${describeValue(input)} ${what}` } : { path, message: `${describeValue(input)} ${what}`, expected });
      }
    }
  }
  return out;
}

/** 'not a duration (expected x)' → ['not a duration', 'x']. */
function splitExpected(message: string): [string, string | undefined] {
  const match = /^(.*) \(expected (.*)\)$/.exec(message);
  return match ? [match[1] as string, match[2] as string] : [message, undefined];
}
