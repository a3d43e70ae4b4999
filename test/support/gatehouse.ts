/**
 * Runs Gatehouse in the test process from YAML text, with its event log captured, on port 0.
 * `url(site, protocol)` gives the URL a client uses.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Gatehouse, type BoundListener } from '../../src/app.js';
import { loadConfigText } from '../../src/config/load.js';
import type { EventLog } from '../../src/tracing/log.js';

export interface RunningGatehouse {
  readonly gatehouse: Gatehouse;
  readonly events: string[];
  readonly bound: BoundListener[];
  /** The config file written for this run (for CLI commands that read it). */
  readonly configFile: string;
  /** The first bound URL of a site with that protocol. */
  url(site: string, protocol?: 'http' | 'https'): string;
  /** Port of the first listener of a site with that protocol. */
  port(site: string, protocol?: 'http' | 'https'): number;
  stop(): Promise<void>;
}

export async function startGatehouse(yaml: string, dir: string): Promise<RunningGatehouse> {
  const file = join(dir, `gatehouse-${process.pid}-${Math.random().toString(36).slice(2)}.yaml`);
  await writeFile(file, yaml);
  const { config } = await loadConfigText(yaml, file, dir);
  const events: string[] = [];
  const eventLog: EventLog = { info: (m) => events.push(`info ${m}`), warn: (m) => events.push(`warn ${m}`), error: (m) => events.push(`error ${m}`) };
  const gatehouse = await Gatehouse.start(config, { eventLog });
  const bound = gatehouse.bound;
  const find = (site: string, protocol: 'http' | 'https') => {
    const listener = bound.find((l) => l.sites.includes(site) && l.protocol === protocol);
    if (!listener) throw new Error(`no ${protocol} listener for site ${site}`);
    return listener;
  };
  return {
    gatehouse,
    events,
    bound,
    configFile: file,
    url: (site, protocol = 'https') => find(site, protocol).url,
    port: (site, protocol = 'https') => find(site, protocol).port,
    stop: () => gatehouse.stop(1000),
  };
}
