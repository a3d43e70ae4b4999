import assert from 'node:assert/strict';
import type { X509Certificate } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, test } from 'node:test';
import { fastifyOnRequestHook, fastifyPlugin, type FastifyInstanceLike, type FastifyOnRequestHook, type FastifyPluginLike, type FastifyReplyLike, type FastifyRequestLike } from '../src/index.js';
import { listen } from './helpers/http.js';
import { importOptional } from './helpers/optional.js';
import { assertScenarios, describeSubject, middlewareOptions } from './helpers/scenario.js';

/** The slice of Fastify 5 these tests use. */
interface FastifyApp {
  register(plugin: FastifyPluginLike): Promise<unknown>;
  addHook(name: 'onRequest', hook: FastifyOnRequestHook): void;
  get(path: string, handler: (request: { clientCertificate?: X509Certificate | null }) => Promise<string>): void;
  listen(options: { port: number; host: string }): Promise<string>;
  close(): Promise<void>;
  server: Server;
}

async function withFastify(t: { skip(message: string): void }, setup: (app: FastifyApp) => Promise<void>): Promise<void> {
  const fastify = (await importOptional('fastify')) as (() => FastifyApp) | undefined;
  if (!fastify) {
    assert.fail('fastify is not installed: it is a devDependency of this package and npm ci installs it');
    return;
  }
  const app = fastify();
  await setup(app);
  app.get('/', async (request) => describeSubject(request.clientCertificate));
  await app.listen({ port: 0, host: '127.0.0.1' });
  try {
    await assertScenarios(`http://127.0.0.1:${(app.server.address() as AddressInfo).port}`);
  } finally {
    await app.close();
  }
}

/**
 * A stand-in for Fastify's request lifecycle, faithful to what the plugin relies on: decorators
 * initialised per request, onRequest hooks in order, a hook that replies without calling done()
 * ends the request, route handler otherwise.
 */
function miniFastify() {
  const decorators = new Map<string, unknown>();
  const hooks: FastifyOnRequestHook[] = [];
  const instance: FastifyInstanceLike = {
    decorateRequest: (name, value) => {
      if (decorators.has(name)) throw new Error(`decorator ${name} already present`);
      decorators.set(name, value);
    },
    hasRequestDecorator: (name) => decorators.has(name),
    addHook: (_name, hook) => {
      hooks.push(hook);
    },
  };
  return {
    instance,
    decorators,
    async register(plugin: FastifyPluginLike): Promise<void> {
      await new Promise<void>((resolve, reject) => plugin(instance, {}, (error) => (error ? reject(error) : resolve())));
    },
    listener(handler: (request: FastifyRequestLike) => string) {
      return listen((req, res) => {
        const request = { raw: req, ...Object.fromEntries(decorators) } as FastifyRequestLike;
        let status = 200;
        const reply: FastifyReplyLike = {
          code: (code) => (status = code),
          header: (name, value) => res.setHeader(name, value),
          send: (payload) => {
            res.statusCode = status;
            res.end(String(payload));
          },
        };
        const run = (index: number): void => {
          const hook = hooks[index];
          if (!hook) {
            reply.send(handler(request));
            return;
          }
          hook(request, reply, (error) => (error ? res.destroy(error) : run(index + 1)));
        };
        run(0);
      });
    },
  };
}

describe('fastifyPlugin', () => {
  test('with a real fastify() app: valid → 200 with subject, forged → 403, missing → 403', async (t) => {
    await withFastify(t, async (app) => {
      await app.register(fastifyPlugin(middlewareOptions()));
    });
  });

  test('is not encapsulated (like fastify-plugin) and names itself', () => {
    const plugin = fastifyPlugin(middlewareOptions()) as unknown as Record<symbol, unknown>;
    assert.equal(plugin[Symbol.for('skip-override')], true);
    assert.equal(plugin[Symbol.for('fastify.display-name')], '@gatehouse/forwarded-cert');
  });

  test('on a Fastify-like lifecycle: decorators declared, hook answers 403 itself', async () => {
    const app = miniFastify();
    await app.register(fastifyPlugin(middlewareOptions()));
    assert.deepEqual([...app.decorators.keys()], ['clientCertificate', 'clientCertificateChain', 'gatehouseLogId']);
    const server = await app.listener((request) => describeSubject(request.clientCertificate));
    try {
      await assertScenarios(server.url);
    } finally {
      await server.close();
    }
  });

  test('registering twice does not redeclare the decorators', async () => {
    const app = miniFastify();
    await app.register(fastifyPlugin(middlewareOptions()));
    await app.register(fastifyPlugin(middlewareOptions()));
    assert.equal(app.decorators.size, 3);
  });
});

describe('fastifyOnRequestHook', () => {
  test('with a real fastify() app via addHook', async (t) => {
    await withFastify(t, async (app) => {
      app.addHook('onRequest', fastifyOnRequestHook(middlewareOptions()));
    });
  });

  test('on a Fastify-like lifecycle', async () => {
    const app = miniFastify();
    app.instance.addHook('onRequest', fastifyOnRequestHook(middlewareOptions()));
    const server = await app.listener((request) => describeSubject(request.clientCertificate));
    try {
      await assertScenarios(server.url);
    } finally {
      await server.close();
    }
  });
});
