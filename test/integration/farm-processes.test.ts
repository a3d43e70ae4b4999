/**
 * The farm with every part a real process: `gatehouse start` as a child process in front of three backend
 * processes (test/support/backend-process.ts) under a steady bounded load. One server is killed with
 * SIGKILL mid-load, one starts answering 500s; no client request fails, both are marked unhealthy with
 * the reason, and each comes back (restarted on its port; healthy again) and takes traffic again.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { writeText, type TestContextLike } from './cli-helpers.js';
import { tempDir } from '../support/temp.js';
import { startCli } from '../support/gatehouse.js';
import { send } from '../support/clients.js';

const BACKEND = join(fileURLToPath(new URL('.', import.meta.url)), '..', 'support', 'backend-process.js');

interface BackendProcess {
  readonly name: string;
  readonly port: number;
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
}

/** Starts a backend process on `port` (0: any) and waits for its `listening` line (bounded). */
async function startBackendProcess(t: TestContextLike, name: string, port = 0): Promise<BackendProcess> {
  const child = spawn(process.execPath, [BACKEND, String(port)], { env: { ...process.env, GATEHOUSE_TEST_BACKEND: name }, stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  });
  const listening = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`backend ${name} did not start within 10 s`)), 10_000);
    createInterface({ input: child.stdout! }).once('line', (line) => {
      clearTimeout(timer);
      resolve(Number(/^listening (\d+)$/.exec(line)?.[1]));
    });
    child.once('exit', () => reject(new Error(`backend ${name} exited before listening`)));
  });
  return { name, port: listening, child, exited };
}

/** One request on a new connection (forwarding-helpers' client): status and body text (`NAME URL`). */
async function request(port: number, path: string, method = 'GET'): Promise<{ status: number; body: string }> {
  const reply = await send(`http://127.0.0.1:${port}${path}`, { method, timeoutMs: 10_000 });
  if (reply.error && reply.status === 0) throw reply.error;
  return { status: reply.status, body: reply.body.toString('utf8') };
}

describe('a farm of backend processes behind a gatehouse process', () => {
  test('SIGKILL of one server and 500s from another under steady load: no failed request; both marked unhealthy and brought back', { timeout: 120_000 }, async (t) => {
    const dir = await tempDir(t, 'gatehouse-farm-processes-');
    const backends = { a: await startBackendProcess(t, 'a'), b: await startBackendProcess(t, 'b'), c: await startBackendProcess(t, 'c') };
    const config = await writeText(
      dir,
      'gatehouse.yaml',
      `accessLog: off
workers: 1
sites:
  - name: app
    bindings: [{ protocol: http, address: 127.0.0.1, port: 0 }]
    farm: web
farms:
  - name: web
    servers: [${Object.values(backends).map((b) => `{ address: 127.0.0.1:${b.port} }`).join(', ')}]
    healthCheck: { url: /health, interval: 300ms, timeout: 2s, maxLiveTrafficFailures: 3, liveTrafficFailurePeriod: 10s }
`,
    );
    const gatehouse = startCli(t, dir, config);
    const port = Number((await gatehouse.waitFor('stdout', /listening http:\/\/127\.0\.0\.1:(\d+)/))[1]);

    // The steady load: sequential requests, each on a new connection, until told to stop (bounded).
    const answers: { status: number; body: string }[] = [];
    const failures: string[] = [];
    let stop = false;
    const load = (async () => {
      for (let i = 0; i < 5_000 && !stop; i++) {
        try {
          const reply = await request(port, `/load/${i}`);
          answers.push(reply);
          if (reply.status !== 200) failures.push(`${i}: ${reply.status} ${reply.body.trim()}`);
        } catch (error) {
          failures.push(`${i}: ${(error as Error).message}`);
        }
      }
    })();
    const servedBy = (name: string, from: number) => answers.slice(from).filter((a) => a.body.startsWith(`${name} `)).length;
    const waitUntil = async (what: string, condition: () => boolean) => {
      for (let i = 0; i < 400 && !condition(); i++) await new Promise((r) => setTimeout(r, 50));
      assert.ok(condition(), `timed out waiting for ${what}\n${gatehouse.stdout}\n${gatehouse.stderr}`);
    };

    await waitUntil('every server to take requests', () => ['a', 'b', 'c'].every((name) => servedBy(name, 0) > 3));

    // b dies without a word.
    backends.b.child.kill('SIGKILL');
    await backends.b.exited;
    // Whichever sees it first: the URL test, or live traffic (each refused connection counts; the request is retried elsewhere).
    // A URL test in flight when the process dies sees its connection reset rather than refused.
    await gatehouse.waitFor('stderr', new RegExp(`farm web server 127\\.0\\.0\\.1:${backends.b.port} marked unhealthy: (URL test: connection error: (ECONNREFUSED|ECONNRESET)|live traffic: \\d+ failures .*connection error)`));
    const afterKill = answers.length;
    await waitUntil('requests after the kill', () => answers.length > afterKill + 20);
    assert.equal(servedBy('b', afterKill), 0, 'an unhealthy server gets no requests');

    // b comes back on its port: the URL test brings it back into the rotation.
    await startBackendProcess(t, 'b', backends.b.port);
    await gatehouse.waitFor('stderr', new RegExp(`farm web server 127\\.0\\.0\\.1:${backends.b.port} marked healthy: URL test passed`));
    const afterRestart = answers.length;
    await waitUntil('the restarted b to take requests', () => servedBy('b', afterRestart) > 3);

    // c starts answering 500s: live traffic (or the URL test, whichever sees it first) marks it unhealthy.
    assert.equal((await request(backends.c.port, '/mode/500', 'POST')).status, 500);
    await gatehouse.waitFor('stderr', new RegExp(`farm web server 127\\.0\\.0\\.1:${backends.c.port} marked unhealthy: (live traffic|URL test)`));
    const after500 = answers.length;
    await waitUntil('requests after c failed', () => answers.length > after500 + 20);
    assert.equal(servedBy('c', after500), 0);
    assert.equal((await request(backends.c.port, '/mode/ok', 'POST')).status, 200);
    await gatehouse.waitFor('stderr', new RegExp(`farm web server 127\\.0\\.0\\.1:${backends.c.port} marked healthy`));
    const afterOk = answers.length;
    await waitUntil('c to take requests again', () => servedBy('c', afterOk) > 3);

    stop = true;
    await load;
    // A 500 from c before it was marked is the server's answer, passed on as ARR does; anything else is a failure.
    const lost = failures.filter((f) => !/: 500 c \//.test(f));
    assert.deepEqual(lost, [], `requests lost while servers died and came back (of ${answers.length})`);
    const fiveHundreds = failures.length - lost.length;
    assert.ok(fiveHundreds <= 5, `at most maxLiveTrafficFailures (3) 500s, and one or two in flight, reach clients: ${fiveHundreds}`);
    t.diagnostic(`${answers.length} requests; ${fiveHundreds} answered 500 by c before it was marked`);
  });
});
