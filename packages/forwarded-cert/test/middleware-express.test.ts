import assert from 'node:assert/strict';
import type { X509Certificate } from 'node:crypto';
import { createServer, type IncomingMessage, type RequestListener, type ServerResponse } from 'node:http';
import { describe, test } from 'node:test';
import { expressMiddleware, type ExpressMiddleware } from '../src/index.js';
import { listen, started } from './helpers/http.js';
import { importOptional } from './helpers/optional.js';
import { assertScenarios, describeSubject, middlewareOptions } from './helpers/scenario.js';

/** The slice of Express 5 these tests use. */
interface ExpressApp extends RequestListener {
  use(mw: ExpressMiddleware): void;
  get(path: string, handler: (req: IncomingMessage & { clientCertificate?: X509Certificate }, res: ServerResponse & { send(body: string): void }) => void): void;
}

describe('expressMiddleware', () => {
  test('with a real express() app: valid → 200 with subject, forged → 403, missing → 403', async (t) => {
    const express = (await importOptional('express')) as (() => ExpressApp) | undefined;
    // express is a devDependency of this package: it must be there for the test to mean anything.
    assert.ok(express, 'express is installed (npm ci installs this package\'s devDependencies)');
    const app = express();
    app.use(expressMiddleware(middlewareOptions()));
    app.get('/', (req, res) => res.send(describeSubject(req.clientCertificate)));
    const server = await started(createServer(app));
    try {
      await assertScenarios(server.url);
    } finally {
      await server.close();
    }
  });

  test('as Express calls it, (req, res, next) on a node:http server', async () => {
    const mw = expressMiddleware(middlewareOptions());
    let nextCalls = 0;
    const server = await listen((req, res) => {
      mw(req, res, (error?: unknown) => {
        nextCalls++;
        if (error) {
          res.statusCode = 500;
          res.end();
          return;
        }
        res.end(describeSubject((req as IncomingMessage & { clientCertificate?: X509Certificate }).clientCertificate));
      });
    });
    try {
      await assertScenarios(server.url);
      assert.equal(nextCalls, 1, 'next() only for the accepted request');
    } finally {
      await server.close();
    }
  });
});
