/**
 * `gatehouse farm list` and `gatehouse farm show FARM`: ARR's Monitoring and Management view of the farms
 * over the admin API (GET /farms, GET /farms/{farm}).
 */
import { Command } from 'commander';
import { segment } from '../admin-client.js';
import { formatBytes, formatNumber, formatSettings, renderPairs, renderTable } from '../table.js';
import { adminSubcommand, showAnswer, type AdminOptions, type Run } from './admin-connection.js';

/** The fields of GET /farms/{farm} the tables show. */
interface ServerView {
  address: string;
  state: string;
  health: string;
  healthReason: string | null;
  currentRequests: number;
  totalRequests: number;
  failedRequests: number;
  requestsPerSecond: number;
  responseTimeMs: number | null;
  bytesSent: number;
  bytesReceived: number;
  affinityClients: number | null;
}

interface FarmView {
  name: string;
  enabled: boolean;
  algorithm: string;
  healthTest: Record<string, unknown>;
  affinity: Record<string, unknown> | null;
  minServers: number;
  healthyServers: number;
  ignoringHealth: boolean;
  servers: ServerView[];
}

const sum = (servers: readonly ServerView[], pick: (s: ServerView) => number) => servers.reduce((total, s) => total + pick(s), 0);

export function renderFarmList(farms: readonly FarmView[]): string {
  if (farms.length === 0) return 'no farms\n';
  return renderTable(
    [{ header: 'FARM' }, { header: 'ENABLED' }, { header: 'ALGORITHM' }, { header: 'HEALTHY', right: true }, { header: 'REQ/S', right: true }, { header: 'CURRENT', right: true }, { header: 'FAILED', right: true }],
    farms.map((farm) => [
      farm.name,
      farm.enabled ? 'yes' : 'no',
      farm.algorithm,
      `${farm.healthyServers}/${farm.servers.length}`,
      formatNumber(sum(farm.servers, (s) => s.requestsPerSecond)),
      String(sum(farm.servers, (s) => s.currentRequests)),
      String(sum(farm.servers, (s) => s.failedRequests)),
    ]),
  );
}

export function renderFarm(farm: FarmView): string {
  const header = renderPairs([
    ['farm', `${farm.name} (${farm.enabled ? 'enabled' : 'offline'})`],
    ['algorithm', farm.algorithm],
    ['health test', formatSettings(farm.healthTest)],
    ['affinity', formatSettings(farm.affinity)],
    ['healthy', `${farm.healthyServers} of ${farm.servers.length} (minServers ${farm.minServers}${farm.ignoringHealth ? '; health ignored: too few healthy servers' : ''})`],
  ]);
  const table = renderTable(
    [
      { header: 'ADDRESS' },
      { header: 'STATE' },
      { header: 'HEALTH' },
      { header: 'CURRENT', right: true },
      { header: 'TOTAL', right: true },
      { header: 'FAILED', right: true },
      { header: 'REQ/S', right: true },
      { header: 'RESPONSE MS', right: true },
      { header: 'SENT', right: true },
      { header: 'RECEIVED', right: true },
      { header: 'AFFINITY CLIENTS', right: true },
    ],
    farm.servers.map((s) => [
      s.address,
      s.state,
      s.health,
      String(s.currentRequests),
      String(s.totalRequests),
      String(s.failedRequests),
      formatNumber(s.requestsPerSecond),
      formatNumber(s.responseTimeMs),
      formatBytes(s.bytesSent),
      formatBytes(s.bytesReceived),
      s.affinityClients === null ? 'cookie' : String(s.affinityClients),
    ]),
  );
  const reasons = farm.servers.filter((s) => s.health === 'unhealthy' && s.healthReason).map((s) => `  ${s.address}: ${s.healthReason}`);
  return `${header}\n${table}${reasons.length ? `\nunhealthy:\n${reasons.join('\n')}\n` : ''}`;
}

export function farmCommand(run: Run): Command {
  const farm = new Command('farm').description("the web farms over the admin API: ARR's Monitoring and Management view");
  farm.addCommand(
    adminSubcommand('list', 'one line per farm: enabled, algorithm, healthy/total servers, requests/s, current requests, failed requests').action((options: AdminOptions) =>
      showAnswer(run, options, '/farms', (answer: { farms: FarmView[] }) => renderFarmList(answer.farms)),
    ),
  );
  farm.addCommand(
    adminSubcommand('show', "a farm's algorithm, health test and affinity, and ARR's Monitoring columns per server")
      .argument('<farm>', "the farm's name")
      .action((name: string, options: AdminOptions) => showAnswer(run, options, `/farms/${segment(name)}`, renderFarm)),
  );
  return farm;
}
