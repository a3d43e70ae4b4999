/**
 * Helpers for the admin API tests with several workers: `gatehouse start` as a real child process (a
 * primary and its workers), its site and admin URLs and its workers' pids as it prints them, and its stop.
 */
import { RunningCli } from '../support/gatehouse.js';

export interface RunningCluster {
  readonly cli: RunningCli;
  /** Each site's URL, by site name, as the `listening` lines say. */
  readonly siteUrls: ReadonlyMap<string, string>;
  /** The admin listener's base URL (without /metrics). */
  readonly adminUrl: string;
  readonly workerPids: readonly number[];
}

/** Starts `gatehouse start -c configFile` (in `cwd`) and waits until its `workers` workers serve. */
export async function startCluster(configFile: string, cwd: string, workers = 2): Promise<RunningCluster> {
  const cli = new RunningCli(undefined, ['start', '-c', configFile], cwd);
  // The sites' lines come first, then the admin line: once it is printed, every site's is.
  const admin = await cli.waitForLine('stdout', /^listening https?:\/\/\S+\/metrics \(admin\)$/);
  const siteUrls = new Map<string, string>();
  for (const line of cli.lines('stdout')) {
    const match = /^listening (\S+) \(site (.+)\)$/.exec(line);
    if (match) for (const site of (match[2] as string).split(', ')) if (!siteUrls.has(site)) siteUrls.set(site, match[1] as string);
  }
  const pids = await cli.waitForLine('stderr', new RegExp(`^gatehouse: ${workers} workers \\(pids [\\d, ]+\\)$`));
  const workerPids = (pids.match(/\d+/g) ?? []).slice(1).map(Number);
  return { cli, siteUrls, adminUrl: (admin.split(' ')[1] as string).replace(/\/metrics$/, ''), workerPids };
}

/** SIGTERM (the workers drain), then SIGKILL if it has not exited within 15 s. */
export async function stopCluster(cli: RunningCli | undefined): Promise<void> {
  if (!cli || cli.hasExited) return;
  cli.child.kill('SIGTERM');
  const exit = await cli.waitExit(15_000).catch(() => undefined);
  if (!exit) await cli.kill();
}
