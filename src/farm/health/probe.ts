/**
 * The URL test's HTTP request, sent with undici through the server's own keep-alive pool (the one the
 * proxy uses) or, when it has none, a small pool of the farm's. The body is read only when
 * responseMatch needs it, and at most maxBodyBytes of it; otherwise it is discarded.
 */
import type { Dispatcher } from 'undici';
import type { FarmServer } from '../farm-server.js';
import type { HealthProbe } from './url-test.js';

export function createUndiciProbe(dispatcherOf: (server: FarmServer) => Dispatcher): HealthProbe {
  return async (server, request, signal) => {
    const response = await dispatcherOf(server).request({
      origin: server.origin,
      path: request.path,
      method: 'GET',
      headers: { host: request.host, 'user-agent': 'Gatehouse-URL-test' },
      signal,
      headersTimeout: request.timeoutMs,
      bodyTimeout: request.timeoutMs,
    });
    if (!request.readBody) {
      await response.body.dump({ limit: request.maxBodyBytes });
      return { status: response.statusCode };
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of response.body) {
      chunks.push(chunk as Buffer);
      size += (chunk as Buffer).length;
      if (size >= request.maxBodyBytes) break; // leaving the loop destroys the rest of the body
    }
    return { status: response.statusCode, body: Buffer.concat(chunks).subarray(0, request.maxBodyBytes).toString('utf8') };
  };
}
