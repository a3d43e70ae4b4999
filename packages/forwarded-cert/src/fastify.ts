/**
 * Fastify integration. Fastify is an optional peer dependency: nothing is imported from it; the
 * plugin and hook are typed structurally so they fit `app.register(…)` and `app.addHook('onRequest', …)`.
 */
import type { X509Certificate } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { rejectionBody } from './rejection.js';
import { decorate, notify, type MiddlewareOptions } from './node-http.js';
import { createClientCertificateVerifier } from './trust.js';

/** The parts of a FastifyRequest the hook uses. */
export interface FastifyRequestLike {
  readonly raw: IncomingMessage;
  clientCertificate?: X509Certificate | null | undefined;
}

/** The parts of a FastifyReply the hook uses. */
export interface FastifyReplyLike {
  code(statusCode: number): unknown;
  header(name: string, value: string): unknown;
  send(payload?: unknown): unknown;
}

/** A Fastify `onRequest` hook in callback style. */
export type FastifyOnRequestHook = (request: FastifyRequestLike, reply: FastifyReplyLike, done: (error?: Error) => void) => void;

/** The parts of a FastifyInstance the plugin uses. */
export interface FastifyInstanceLike {
  decorateRequest(property: string, value: null): unknown;
  hasRequestDecorator(property: string): boolean;
  addHook(name: 'onRequest', hook: FastifyOnRequestHook): unknown;
}

/**
 * A Fastify plugin in callback style. The instance is typed `any` on purpose: Fastify's instance type
 * (overloaded, generic hooks and decorators) differs between versions, and this keeps
 * `app.register(fastifyPlugin(…))` compiling with any of them without importing Fastify's types.
 * The plugin only calls the {@link FastifyInstanceLike} methods on it.
 */
export type FastifyPluginLike = (instance: any, options: unknown, done: (error?: Error) => void) => void;

/**
 * An `onRequest` hook: accepted → `request.clientCertificate` (and `clientCertificateChain`,
 * `gatehouseLogId`) set, then `done()`; refused → `reply.code(403)` with `Forbidden: <CODE>`.
 * Use {@link fastifyPlugin} to also declare the request decorators.
 */
export function fastifyOnRequestHook(options: MiddlewareOptions): FastifyOnRequestHook {
  const verify = createClientCertificateVerifier(options);
  return (request, reply, done) => {
    const result = verify(request.raw);
    if (!result.ok) {
      notify(options.onRejected, request.raw, result);
      reply.code(403);
      reply.header('content-type', 'text/plain; charset=utf-8');
      reply.header('cache-control', 'no-store');
      reply.send(rejectionBody(result.code)); // answering from a hook: done() is not called
      return;
    }
    decorate(request, result);
    done();
  };
}

/**
 * `await app.register(fastifyPlugin(options))`: decorates requests with `clientCertificate`,
 * `clientCertificateChain` and `gatehouseLogId` and adds the onRequest hook. Like plugins wrapped
 * with fastify-plugin it is not encapsulated, so it covers routes registered outside it too.
 */
export function fastifyPlugin(options: MiddlewareOptions): FastifyPluginLike {
  const hook = fastifyOnRequestHook(options);
  const plugin: FastifyPluginLike = (fastify, _options, done) => {
    const instance = fastify as FastifyInstanceLike;
    for (const name of ['clientCertificate', 'clientCertificateChain', 'gatehouseLogId']) {
      if (!instance.hasRequestDecorator(name)) instance.decorateRequest(name, null);
    }
    instance.addHook('onRequest', hook);
    done();
  };
  Object.defineProperty(plugin, Symbol.for('skip-override'), { value: true });
  Object.defineProperty(plugin, Symbol.for('fastify.display-name'), { value: '@gatehouse/forwarded-cert' });
  return plugin;
}
