/**
 * queryStringHash (ARR "Query string hash"): consistent hash of the values of the query-string names in
 * `queryStringNames`, in that order, joined with `&` (a missing one adds an empty value). Names match in
 * any letter case and the first occurrence counts; values are percent-decoded (`+` is a space). A
 * request with none of the names has no key.
 */
import type { AlgorithmFactory } from './algorithm.js';
import { createHashAlgorithm, type KeyOf } from './hash-algorithm.js';

/** Whether url[start, start+name.length) equals `name` (lower case) in any ASCII letter case. */
function isNameAt(url: string, start: number, end: number, name: string): boolean {
  if (end - start !== name.length) return false;
  for (let j = 0; j < name.length; j++) {
    let c = url.charCodeAt(start + j);
    if (c >= 65 && c <= 90) c += 32;
    if (c !== name.charCodeAt(j)) return false;
  }
  return true;
}

function decode(value: string): string {
  if (value.indexOf('%') < 0 && value.indexOf('+') < 0) return value;
  try {
    return decodeURIComponent(value.replace(/\+/g, ' '));
  } catch {
    return value; // malformed escapes: hash the raw text
  }
}

/** The value of the first `name` parameter in the query starting at `from`; undefined when absent. */
function valueOf(url: string, from: number, name: string): string | undefined {
  let start = from;
  // Each turn moves past one parameter, so at most url.length turns.
  while (start <= url.length) {
    let end = url.indexOf('&', start);
    if (end < 0) end = url.length;
    let equals = url.indexOf('=', start);
    if (equals < 0 || equals > end) equals = end;
    if (isNameAt(url, start, equals, name)) return equals < end ? decode(url.slice(equals + 1, end)) : '';
    start = end + 1;
  }
  return undefined;
}

export function queryStringReader(names: readonly string[]): KeyOf {
  const lower = names.map((n) => n.toLowerCase());
  return (request) => {
    const url = request.url;
    const query = url.indexOf('?');
    if (query < 0) return undefined;
    let key = '';
    let isFound = false;
    for (let i = 0; i < lower.length; i++) {
      const value = valueOf(url, query + 1, lower[i] as string);
      if (value !== undefined) isFound = true;
      key = i === 0 ? (value ?? '') : `${key}&${value ?? ''}`;
    }
    return isFound ? key : undefined;
  };
}

export const createQueryStringHash: AlgorithmFactory = (context, policy) => {
  if (policy.queryStringNames.length === 0) throw new Error('queryStringHash needs queryStringNames');
  return createHashAlgorithm('queryStringHash', context, queryStringReader(policy.queryStringNames));
};
