/** `gatehouse status`: version, Node version, uptime, workers, config file and last reload (GET /status). */
import type { Command } from 'commander';
import { formatDuration, renderPairs } from '../table.js';
import { adminSubcommand, showAnswer, type AdminOptions, type Run } from './admin-connection.js';

interface Status {
  version: string;
  node: string;
  uptimeSeconds: number;
  startedAt: string;
  workers: number;
  configFile: string;
  lastReload: { at: string; file: string; ok: boolean; problems: string[] } | null;
}

export function renderStatus(status: Status): string {
  const reload = status.lastReload;
  const text = renderPairs([
    ['version', status.version],
    ['node', status.node],
    ['uptime', `${formatDuration(status.uptimeSeconds)} (since ${status.startedAt})`],
    ['workers', String(status.workers)],
    ['config file', status.configFile],
    ['last reload', reload === null ? 'none since start' : `${reload.at} ${reload.ok ? 'ok' : `failed (${reload.problems.length} problem${reload.problems.length === 1 ? '' : 's'})`}`],
  ]);
  return reload && reload.problems.length ? `${text}${reload.problems.map((p) => `  ${p}`).join('\n')}\n` : text;
}

export function statusCommand(run: Run): Command {
  return adminSubcommand('status', 'the running Gatehouse over the admin API: version, Node version, uptime, workers, config file, last reload').action((options: AdminOptions) =>
    showAnswer(run, options, '/status', renderStatus),
  );
}
