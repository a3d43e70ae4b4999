/**
 * A worker process: starts Gatehouse from the config the primary names, with the primary's TLS session
 * ticket key and the run-time state the primary has applied so far (in force before it serves), answers
 * the primary's questions (answers.ts: its farms, operations to apply, reloads, its rejections counter,
 * the client certificates it has seen),
 * sends its farms' health and state changes to the primary's event bus (events.ts), and drains when the
 * primary says stop (or when the primary is gone). Signals are the primary's to handle: a Ctrl-C reaches
 * the whole process group, and the primary coordinates the drain.
 */
import { Gatehouse, ListenError } from '../app.js';
import type { ReloadSummary } from '../admin/context.js';
import { attributedFarms } from '../admin/events.js';
import { localFarmRuntime, type FarmRuntime } from '../admin/farm-runtime.js';
import { loadConfig } from '../config/load.js';
import { ConfigError } from '../config/problem.js';
import { answer, answerAsk } from './answers.js';
import { forwardEvents } from './events.js';
import type { ToPrimary, ToWorker } from './messages.js';
import { offerWorkerMetrics } from './metrics.js';

function send(message: ToPrimary): void {
  process.send?.(message);
}

/** The questions a worker answers about its Gatehouse (once started: asks wait for the start). */
function answerAbout(started: () => Promise<Gatehouse>): void {
  const farms = async (): Promise<FarmRuntime> => {
    const gatehouse = await started();
    const local = localFarmRuntime(() => gatehouse.farms);
    // The state events an operation causes name the admin user who asked (`by`).
    return gatehouse.events ? attributedFarms(local, gatehouse.events) : local;
  };
  answer('farms.list', async () => (await farms()).list());
  answer('farms.current', async ({ operation }) => (await farms()).current(operation));
  answer('farms.apply', async ({ operation, actor }) => (await farms()).apply(operation, actor));
  answer('gatehouse.reload', async (): Promise<ReloadSummary> => {
    const gatehouse = await started();
    const ok = await gatehouse.reload();
    const last = gatehouse.lastReload;
    // Not tried at all: the worker is stopping.
    if (!ok && last?.ok !== false) return { atMs: Date.now(), file: gatehouse.config.file, ok: false, problems: ['the worker is stopping'] };
    return last as ReloadSummary;
  });
  answer('clientCertificates.snapshot', async () => (await started()).clientCertificates?.snapshot() ?? []);
  answer('metrics.rejections', async () => {
    const counter = (await started()).metrics?.registry.getSingleMetric('gatehouse_rejections_total');
    return counter ? await counter.get() : null;
  });
}

export function runWorker(): void {
  let gatehouse: Gatehouse | undefined;
  let starting: Promise<Gatehouse> | undefined;
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await starting?.catch(() => undefined);
    await gatehouse?.stop();
    send({ type: 'stopped' });
    process.disconnect?.();
    process.exit(0);
  };
  answerAbout(() => starting ?? Promise.reject(new Error('this worker has not been told to start yet')));
  process.on('SIGINT', () => {});
  process.on('SIGTERM', () => {});
  process.on('disconnect', () => void stop());
  process.on('message', (message: ToWorker) => {
    if (message.type === 'stop') void stop();
    if (message.type === 'ask') void answerAsk(message, send);
    if (message.type !== 'start') return;
    starting = (async () => {
      const { config } = await loadConfig(message.configFile);
      return Gatehouse.start(config, { ticketKeys: Buffer.from(message.ticketKeyHex, 'hex'), collectMetrics: config.admin !== undefined, runtimeOperations: message.operations });
    })();
    starting.then(
      (started) => {
        gatehouse = started;
        if (started.metrics) offerWorkerMetrics(started.metrics.registry);
        // Health and state changes go to the primary's bus (what the admin API's events read).
        if (started.events) forwardEvents(started.events, send);
        send({ type: 'listening', bound: started.bound });
      },
      (error: unknown) => {
        const text = error instanceof ConfigError ? `the config is invalid\n${error.lines.join('\n')}` : error instanceof ListenError ? error.message : ((error as Error).stack ?? String(error));
        send({ type: 'failed', message: text });
        process.exit(1);
      },
    );
  });
  // Only now can the worker hear the primary: messages sent before a listener exists are lost.
  send({ type: 'ready' });
}
