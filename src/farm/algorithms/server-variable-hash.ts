/**
 * serverVariableHash (ARR "Server variable hash"): consistent hash of one IIS server variable, chosen
 * by `hashServerVariable`: REMOTE_ADDR (the client IP), QUERY_STRING, URL (the path without the query),
 * HTTP_HOST, or HTTP_<HEADER>, the request header whose name is <HEADER> with `_` read as `-`.
 */
import type { RequestInfo } from '../request-info.js';
import type { AlgorithmFactory } from './algorithm.js';
import { createHashAlgorithm, type KeyOf } from './hash-algorithm.js';

/** The reader of a server variable (upper case, as normalized). */
export function serverVariableReader(variable: string): KeyOf {
  switch (variable) {
    case 'REMOTE_ADDR':
      return (request) => request.remoteAddress;
    case 'QUERY_STRING':
      return (request) => {
        const url = request.url;
        const query = url.indexOf('?');
        return query < 0 ? undefined : url.slice(query + 1);
      };
    case 'URL':
      return (request) => {
        const url = request.url;
        const query = url.indexOf('?');
        return query < 0 ? url : url.slice(0, query);
      };
    case 'HTTP_HOST':
      return (request: RequestInfo) => request.host;
    default: {
      if (!variable.startsWith('HTTP_')) throw new Error(`unknown server variable ${variable}`);
      const header = variable.slice('HTTP_'.length).toLowerCase().replace(/_/g, '-');
      return (request) => request.header(header);
    }
  }
}

export const createServerVariableHash: AlgorithmFactory = (context, policy) => {
  if (policy.hashServerVariable === undefined) throw new Error('serverVariableHash needs hashServerVariable');
  return createHashAlgorithm('serverVariableHash', context, serverVariableReader(policy.hashServerVariable));
};
