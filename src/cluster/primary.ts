/**
 * The primary process of `gatehouse start` with several workers (node:cluster): it forks the workers,
 * which share the listening sockets; prints the listening lines once; replaces a worker that dies without
 * touching the others' connections; and on SIGTERM/SIGINT asks every worker to drain, then exits.
 * All workers share one TLS session ticket key (from sessionTicketKeyFile, or made here), so a client
 * resumes its session whichever worker it reaches.
 *
 * The admin API is served here: farm reads ask every worker and merge (farm-runtime.ts), a farm
 * operation is applied to every worker before it answers, and the operations applied so far
 * (runtime-state.ts) go in a new worker's start message, so a replacement serves with the current
 * run-time state from its first request. A reload resolves once every worker answered its result.
 * The admin API's events live here too (cluster/events.ts: what is published here, what the workers forward).
 */
import { probePlatform, workerPlatformEnv } from '../platform/probes.js';
import cluster, { type Worker } from 'node:cluster';
import { randomBytes } from 'node:crypto';
import type { Config } from '../config/model.js';
import { WORKER_ENV, type AskName, type Asks, type ToPrimary, type ToWorker } from './messages.js';
import type { AdminServer } from '../admin/admin-server.js';
import { startAdminListener } from '../admin/start.js';
import type { ReloadSummary } from '../admin/context.js';
import { clusterFarmRuntime } from './farm-runtime.js';
import { clusterMetricsSource, clusterRejections } from './metrics.js';
import { everyValue, WorkerCalls } from './calls.js';
import { EventBus } from '../admin/events.js';
import { publishForwarded } from './events.js';
import { mergeSnapshots } from '../tls/client-certificate-inventory.js';
import { RuntimeState } from './runtime-state.js';
import { loadConfig } from '../config/load.js';
import { ConfigError } from '../config/problem.js';
import { watchConfigFiles, type ConfigWatcher } from '../config/watch.js';

/** A worker that dies this soon after starting counts towards a crash loop. */
const QUICK_DEATH_MS = 2_000;
const MAX_QUICK_DEATHS = 5;
/** How long a worker has to answer a reload (it builds TLS contexts and binds new sockets). */
const RELOAD_ANSWER_MS = 30_000;

export async function runPrimary(config: Config, configFile: string): Promise<number> {
  // The admin listener lives here, so /metrics covers every worker, and so does the admin API.
  let admin: AdminServer | undefined;
  const workers = new ClusterWorkers();
  const current: PrimaryState = { config, lastReload: undefined, reload: () => Promise.reject(new Error('the workers are not started yet')) };
  if (config.admin) {
    try {
      const farms = clusterFarmRuntime((name, args) => workers.askEach(name, args), workers.runtimeState);
      // The cluster's events (cluster/events.ts): reloads and admin writes published here, the workers' health and state forwarded.
      const events = new EventBus();
      current.events = events;
      // Every worker's client certificates seen, merged (counts summed; a worker that does not answer fails the read with 503).
      const clientCertificates = async () => mergeSnapshots(everyValue(await workers.askEach('clientCertificates.snapshot', null)));
      admin = await startAdminListener(config.admin, clusterMetricsSource(), { config: () => current.config, farms, events, clientCertificates, lastReload: () => current.lastReload, reload: () => current.reload(), startedAtMs: Date.now(), workers: config.workers });
      current.admin = admin;
      events.watchRejections(clusterRejections(async () => everyValue(await workers.askEach('metrics.rejections', null))));
    } catch (error) {
      process.stderr.write(`gatehouse: ${(error as Error).message}\n`);
      return 1;
    }
  }
  // The probes ran in this process before it forked (start.ts; memoized): workers take its verdicts.
  const platformEnv = workerPlatformEnv(await probePlatform({ http2: config.sites.some((site) => site.bindings.some((binding) => binding.http2)) }));
  const code = await runWorkers(config, configFile, admin?.url, current, workers, platformEnv);
  await admin?.close();
  current.events?.close();
  return code;
}

/**
 * The workers the primary can ask: those it has sent their start (with the run-time state as it was
 * then), until they stop. A question asked of them all is asked of the set as it is at that moment.
 */
class ClusterWorkers {
  readonly calls = new WorkerCalls();
  readonly runtimeState = new RuntimeState();
  readonly #started = new Set<Worker>();

  /** Sends `worker` its start, with the run-time state applied so far; it is asked everything from now on. */
  start(worker: Worker, message: Omit<Extract<ToWorker, { type: 'start' }>, 'operations'>): void {
    this.#started.add(worker);
    worker.send({ ...message, operations: this.runtimeState.operations } satisfies ToWorker);
  }

  stopped(worker: Worker): void {
    this.#started.delete(worker);
  }

  /** The worker whose cluster-wide events (a state change, an admin mark) the primary publishes: the longest-serving one. */
  isReporter(worker: Worker): boolean {
    return [...this.#started].find((started) => !started.isDead()) === worker;
  }

  askEach<K extends AskName>(name: K, args: Asks[K]['args'], timeoutMs?: number) {
    return this.calls.askEach([...this.#started].filter((worker) => !worker.isDead()), name, args, timeoutMs);
  }
}

/** What the admin API reads of the primary: the config in force, the last reload, how to reload, the events. */
interface PrimaryState {
  config: Config;
  lastReload: ReloadSummary | undefined;
  reload: () => Promise<ReloadSummary>;
  /** With an `admin` key. */
  events?: EventBus;
  /** With an `admin` key: the listener takes a reload's admin settings (admin-server.ts). */
  admin?: AdminServer;
}

function runWorkers(config: Config, configFile: string, adminUrl: string | undefined, current: PrimaryState, pool: ClusterWorkers, platformEnv: Record<string, string> = {}): Promise<number> {
  const ticketKeyHex = (config.sessionTicketKey ?? randomBytes(48)).toString('hex');
  const start = { type: 'start', configFile, ticketKeyHex } as const;
  // Structured clone on the IPC channel, not JSON: a worker's metrics keep +Inf (a gauge with nothing to
  // report, such as the soonest certificate expiry) instead of arriving as null and aggregating to 0.
  cluster.setupPrimary({ serialization: 'advanced' });
  const startedAt = new Map<Worker, number>();
  let stopping = false;
  let announced = false;
  let quickDeaths = 0;
  let ready = 0;

  let resolveCleanup: () => void = () => {};
  const cleanupOnResolve = new Promise<void>((resolve) => (resolveCleanup = resolve));
  return new Promise<number>((resolve) => {
    const finish = (code: number) => {
      cluster.removeAllListeners('exit');
      resolveCleanup();
      resolve(code);
    };
    const fork = () => {
      const worker = cluster.fork({ [WORKER_ENV]: '1', ...platformEnv });
      startedAt.set(worker, Date.now());
      pool.calls.watch(worker);
      worker.on('message', (message: ToPrimary) => onMessage(worker, message));
      return worker;
    };
    const workers = () => Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
    const stopAll = (code: number) => {
      if (stopping) return;
      stopping = true;
      const alive = workers();
      if (alive.length === 0) return finish(code);
      for (const worker of alive) worker.send({ type: 'stop' } satisfies ToWorker);
      // Workers drain within drainTimeout; after that (and a margin) they are killed.
      const timer = setTimeout(() => {
        for (const worker of workers()) worker.process.kill('SIGKILL');
      }, config.drainTimeoutMs + 5_000);
      timer.unref();
      // A worker leaves cluster.workers only once it has both exited and disconnected, in either order:
      // count the processes still running, or a last 'exit' before its 'disconnect' would never finish.
      cluster.on('exit', () => {
        if (workers().every((worker) => worker.isDead())) {
          clearTimeout(timer);
          finish(code);
        }
      });
    };
    const onMessage = (worker: Worker, message: ToPrimary) => {
      if (message.type === 'event') {
        if (current.events) publishForwarded(current.events, message.event, worker.process.pid ?? 0, pool.isReporter(worker));
        return;
      }
      if (message.type === 'ready') {
        pool.start(worker, start);
        return;
      }
      if (message.type === 'failed') {
        process.stderr.write(`gatehouse: worker ${worker.process.pid}: ${message.message}\n`);
        if (!announced) stopAll(1);
        return;
      }
      if (message.type !== 'listening') return;
      if (announced) {
        process.stderr.write(`gatehouse: worker ${worker.process.pid} replaced a worker that stopped and is serving\n`);
        return;
      }
      ready++;
      if (ready === config.workers) {
        announced = true;
        for (const listener of message.bound) process.stdout.write(`listening ${listener.url} (site ${listener.sites.join(', ')})\n`);
        if (adminUrl) process.stdout.write(`listening ${adminUrl}/metrics (admin)\n`);
        process.stderr.write(`gatehouse: ${config.workers} workers (pids ${workers().map((w) => w.process.pid).join(', ')})\n`);
      }
    };
    cluster.on('exit', (worker, code, signal) => {
      pool.stopped(worker);
      if (stopping) return;
      const lived = Date.now() - (startedAt.get(worker) ?? 0);
      startedAt.delete(worker);
      if (!announced) {
        // A worker that cannot start (it said why) ends the start.
        stopAll(1);
        return;
      }
      quickDeaths = lived < QUICK_DEATH_MS ? quickDeaths + 1 : 0;
      if (quickDeaths >= MAX_QUICK_DEATHS) {
        process.stderr.write(`gatehouse: workers keep dying right after they start (${quickDeaths} in a row); stopping\n`);
        stopAll(1);
        return;
      }
      process.stderr.write(`gatehouse: worker ${worker.process.pid} stopped (${signal ?? `exit code ${code}`}); starting a new one\n`);
      fork();
    });
    let signals = 0;
    const onSignal = (signal: NodeJS.Signals) => {
      signals++;
      if (signals > 1) {
        process.stderr.write(`gatehouse: ${signal} again, stopping now\n`);
        for (const worker of workers()) worker.process.kill('SIGKILL');
        process.exit(130);
      }
      process.stderr.write(`gatehouse: ${signal}, draining ${workers().length} workers (up to ${config.drainTimeoutMs} ms)\n`);
      stopAll(0);
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    // Reloads: the primary checks the new config once (and says what is wrong), then every worker reloads.
    let watcher: ConfigWatcher | undefined;
    let files = config.files;
    const rewatch = () => {
      watcher?.close();
      watcher = watchConfigFiles(files, reload, (message) => process.stderr.write(`gatehouse: ${message}\n`));
    };
    // One reload at a time, in the order asked: each resolves once every worker answered its result.
    let reloading: Promise<unknown> = Promise.resolve();
    // Once per reload, with the combined result (the workers' own reload events are not forwarded).
    const publishReload = (summary: ReloadSummary) => current.events?.publish({ type: 'reload', ok: summary.ok, problems: summary.problems, file: summary.file });
    const reload = (): Promise<ReloadSummary> => {
      const next = reloading.then(reloadWorkers);
      reloading = next;
      return next;
    };
    const reloadWorkers = (): Promise<ReloadSummary> =>
      loadConfig(configFile).then(
        async ({ config: next }) => {
          const atMs = Date.now();
          files = next.files;
          rewatch();
          process.stderr.write(`gatehouse: reloading ${workers().length} workers from ${configFile}\n`);
          const answers = await pool.askEach('gatehouse.reload', null, RELOAD_ANSWER_MS);
          const problems = answers.flatMap((answer) => (answer.ok ? answer.value.problems.map((problem) => `worker ${answer.pid}: ${problem}`) : [answer.error.message]));
          const refused = answers.filter((answer) => !answer.ok || !answer.value.ok).map((answer) => answer.pid);
          const summary: ReloadSummary = { atMs, file: configFile, ok: refused.length === 0, problems };
          // In force in at least one worker (a replacement starts from the file anyway): the primary follows.
          const isInForce = refused.length < answers.length || answers.length === 0;
          if (isInForce) {
            pool.runtimeState.reloaded(current.config, next);
            current.config = next;
            for (const line of current.admin?.reload(next.admin) ?? []) process.stderr.write(`gatehouse: ${line}\n`);
          }
          current.lastReload = summary;
          publishReload(summary);
          if (refused.length === 0) process.stderr.write(`gatehouse: ${answers.length} workers reloaded from ${configFile}\n`);
          else if (isInForce) process.stderr.write(`gatehouse: reload not in force in worker ${refused.join(', ')} (the others reloaded)\n${problems.join('\n')}\n`);
          else process.stderr.write(`gatehouse: reload refused by every worker, the running config stays\n${problems.join('\n')}\n`);
          return summary;
        },
        (error: unknown) => {
          const lines = error instanceof ConfigError ? error.lines : [(error as Error).message];
          const summary: ReloadSummary = { atMs: Date.now(), file: configFile, ok: false, problems: lines };
          current.lastReload = summary;
          publishReload(summary);
          process.stderr.write(`gatehouse: reload refused, the running config stays: ${configFile} is invalid\n${lines.join('\n')}\n`);
          return summary;
        },
      );
    current.reload = reload;
    const onHangup = () => void reload();
    process.on('SIGHUP', onHangup);
    rewatch();
    const cleanup = () => {
      watcher?.close();
      process.off('SIGHUP', onHangup);
    };
    void cleanupOnResolve.then(cleanup);
    for (let i = 0; i < config.workers; i++) fork();
  });
}
