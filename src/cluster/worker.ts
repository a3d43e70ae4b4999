/**
 * A worker process: starts Gatehouse from the config the primary names, with the primary's TLS session
 * ticket key, and drains when the primary says stop (or when the primary is gone). Signals are the
 * primary's to handle: a Ctrl-C reaches the whole process group, and the primary coordinates the drain.
 */
import { Gatehouse, ListenError } from '../app.js';
import { loadConfig } from '../config/load.js';
import { ConfigError } from '../config/problem.js';
import type { ToPrimary, ToWorker } from './messages.js';
import { offerWorkerMetrics } from './metrics.js';

function send(message: ToPrimary): void {
  process.send?.(message);
}

export function runWorker(): void {
  let gatehouse: Gatehouse | undefined;
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await gatehouse?.stop();
    send({ type: 'stopped' });
    process.disconnect?.();
    process.exit(0);
  };
  process.on('SIGINT', () => {});
  process.on('SIGTERM', () => {});
  process.on('disconnect', () => void stop());
  process.on('message', (message: ToWorker) => {
    if (message.type === 'stop') void stop();
    if (message.type === 'reload') void gatehouse?.reload();
    if (message.type !== 'start') return;
    void (async () => {
      try {
        const { config } = await loadConfig(message.configFile);
        gatehouse = await Gatehouse.start(config, { ticketKeys: Buffer.from(message.ticketKeyHex, 'hex'), collectMetrics: config.admin !== undefined });
        if (gatehouse.metrics) offerWorkerMetrics(gatehouse.metrics.registry);
        send({ type: 'listening', bound: gatehouse.bound });
      } catch (error) {
        const text = error instanceof ConfigError ? `the config is invalid\n${error.lines.join('\n')}` : error instanceof ListenError ? error.message : ((error as Error).stack ?? String(error));
        send({ type: 'failed', message: text });
        process.exit(1);
      }
    })();
  });
  // Only now can the worker hear the primary: messages sent before a listener exists are lost.
  send({ type: 'ready' });
}
