/**
 * `gatehouse start [-c FILE]`: runs in the foreground, one line per listening binding, graceful stop on
 * SIGTERM/SIGINT (a second signal stops at once). Node's internals are probed first (src/platform/):
 * one line says which fallbacks are in use and why, when any is.
 */
import { Gatehouse, ListenError } from '../../app.js';
import { loadConfig } from '../../config/load.js';
import { ConfigError } from '../../config/problem.js';
import { resolve } from 'node:path';
import { runPrimary } from '../../cluster/primary.js';
import { watchConfigFiles, type ConfigWatcher } from '../../config/watch.js';
import { fallbackSummary, platformProblem, probePlatform } from '../../platform/probes.js';
import type { Config } from '../../config/model.js';

/** Probes node's internals before anything listens; logs the fallbacks in use. False: Gatehouse cannot run here. */
export async function probeBeforeStart(config: Config, log: (line: string) => void): Promise<boolean> {
  const platform = await probePlatform({ http2: config.sites.some((site) => site.bindings.some((binding) => binding.http2)) });
  const problem = platformProblem(platform);
  if (problem) {
    log(`gatehouse: ${problem}`);
    return false;
  }
  const summary = fallbackSummary(platform);
  if (summary) log(`gatehouse: ${summary}`);
  return true;
}

export async function startCommand(options: { config: string }): Promise<number> {
  let gatehouse: Gatehouse;
  try {
    const { config, warnings } = await loadConfig(options.config);
    for (const line of warnings) process.stderr.write(`${line}\n`);
    if (!(await probeBeforeStart(config, (line) => process.stderr.write(`${line}\n`)))) return 1;
    if (config.workers > 1) {
      const code = await runPrimary(config, resolve(options.config));
      if (code === 0) process.stderr.write('gatehouse: stopped\n');
      return code;
    }
    gatehouse = await Gatehouse.start(config);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`gatehouse: the config is invalid\n${error.lines.join('\n')}\n`);
      return 1;
    }
    if (error instanceof ListenError) {
      process.stderr.write(`gatehouse: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
  for (const listener of gatehouse.bound) {
    process.stdout.write(`listening ${listener.url} (site ${listener.sites.join(', ')})\n`);
  }
  if (gatehouse.admin) process.stdout.write(`listening ${gatehouse.admin.url}/metrics (admin)\n`);
  const reloads = reloadOnChange(gatehouse);
  const code = await runUntilSignal(gatehouse);
  reloads.close();
  return code;
}

/** SIGHUP and a change to the config or a file it names reload Gatehouse (a refused reload is logged). */
function reloadOnChange(gatehouse: Gatehouse): { close(): void } {
  let watcher: ConfigWatcher | undefined;
  const rewatch = () => {
    watcher?.close();
    watcher = watchConfigFiles(gatehouse.config.files, reload, (message) => process.stderr.write(`gatehouse: ${message}\n`));
  };
  const reload = () => {
    void gatehouse.reload().then((isReloaded) => {
      if (isReloaded) rewatch();
    });
  };
  process.on('SIGHUP', reload);
  rewatch();
  return {
    close() {
      process.off('SIGHUP', reload);
      watcher?.close();
    },
  };
}

/** Waits for SIGTERM/SIGINT, then drains. Resolves with the exit code. */
export function runUntilSignal(gatehouse: Gatehouse, onStop?: () => Promise<void>): Promise<number> {
  return new Promise((resolve) => {
    let stopping = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (stopping) {
        process.stderr.write(`gatehouse: ${signal} again, stopping now\n`);
        process.exit(130);
      }
      stopping = true;
      process.stderr.write(`gatehouse: ${signal}, draining (up to ${gatehouse.config.drainTimeoutMs} ms)\n`);
      void gatehouse
        .stop()
        .then(() => onStop?.())
        .then(() => {
          // Forced: the drain timeout closed connections that were still busy (requests, HTTP/2 streams, WebSockets).
          process.stderr.write(gatehouse.wasStopForced ? `gatehouse: stopped (forced: connections still open at drainTimeout ${gatehouse.config.drainTimeoutMs} ms were closed)\n` : 'gatehouse: stopped\n');
          resolve(0);
        });
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}
