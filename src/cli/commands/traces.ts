/**
 * `gatehouse traces list` and `gatehouse traces show N`: the kept traces of the sites in a config,
 * in a compact terminal view (the IIS Compact View, one event per line).
 */
import { Command } from 'commander';
import { loadConfig } from '../../config/load.js';
import { ConfigError } from '../../config/problem.js';
import type { Trace } from '../../shared/trace.js';
import { listTraceFiles, readTraceFile, traceFileName } from '../../tracing/trace-writer.js';
import { CliError } from '../cli-error.js';

async function tracedSites(configFile: string, siteName: string | undefined): Promise<{ name: string; directory: string }[]> {
  let sites;
  try {
    sites = (await loadConfig(configFile)).config.sites;
  } catch (error) {
    if (error instanceof ConfigError) throw new CliError(`the config is invalid\n${error.lines.join('\n')}`);
    throw error;
  }
  const traced = sites.filter((s) => s.tracing && (siteName === undefined || s.name === siteName));
  if (siteName !== undefined && traced.length === 0) {
    const known = sites.filter((s) => s.tracing).map((s) => s.name);
    throw new CliError(`--site ${siteName}: no such site with tracing (expected one of: ${known.join(', ') || 'none: add tracing rules to a site'})`);
  }
  return traced.map((s) => ({ name: s.name, directory: s.tracing?.directory as string }));
}

async function readTrace(file: string): Promise<Trace> {
  try {
    return await readTraceFile(file);
  } catch (error) {
    throw new CliError((error as Error).message);
  }
}

export function tracesCommand(run: (action: () => Promise<number>) => void): Command {
  const traces = new Command('traces').description('failed request traces kept by the sites\' tracing rules');
  traces
    .command('list')
    .description('one line per kept trace: number, time, site, status, time taken, method and URL')
    .option('-c, --config <file>', 'config file', 'gatehouse.yaml')
    .option('--site <name>', 'only this site')
    .action((o: { config: string; site?: string }) =>
      run(async () => {
        const lines: string[] = [];
        for (const site of await tracedSites(o.config, o.site)) {
          for (const { sequence, file } of await listTraceFiles(site.directory)) {
            const t = await readTrace(file);
            lines.push(`${String(sequence).padStart(6)}  ${t.startTime}  ${site.name}  ${t.statusCode}.${t.subStatusCode}  ${String(Math.round(t.timeTakenMs)).padStart(6)} ms  ${t.verb} ${t.url}  (${t.failureReason})`);
          }
        }
        process.stdout.write(lines.length ? `${lines.join('\n')}\n` : 'no traces\n');
        return 0;
      }),
    );
  traces
    .command('show')
    .description('the compact view of one trace: every event with its time and details')
    .argument('<n>', 'trace number (as in list) or a trace file path')
    .option('-c, --config <file>', 'config file', 'gatehouse.yaml')
    .option('--site <name>', 'the site, when several have a trace with that number')
    .action((n: string, o: { config: string; site?: string }) =>
      run(async () => {
        let file = n;
        if (/^\d+$/.test(n)) {
          const candidates = [];
          for (const site of await tracedSites(o.config, o.site)) {
            const found = (await listTraceFiles(site.directory)).find((entry) => entry.sequence === Number(n));
            if (found) candidates.push(found.file);
          }
          if (candidates.length === 0) throw new CliError(`no trace number ${n} (${traceFileName(Number(n))}); see gatehouse traces list`);
          if (candidates.length > 1) throw new CliError(`trace ${n} exists in several sites; choose one with --site`);
          file = candidates[0] as string;
        }
        process.stdout.write(renderTrace(await readTrace(file), file));
        return 0;
      }),
    );
  return traces;
}

/** The compact view: a header, then `+elapsed  EVENT_NAME  Key=Value …`. */
export function renderTrace(trace: Trace, file: string): string {
  const out = [
    `${file}`,
    `${trace.verb} ${trace.url}  site ${trace.site}  →  ${trace.statusCode}.${trace.subStatusCode} in ${trace.timeTakenMs} ms  (${trace.failureReason}, rule ${trace.rule + 1})`,
    `started ${trace.startTime}${trace.activityId ? `  X-ARR-LOG-ID ${trace.activityId}` : ''}`,
    '',
  ];
  for (const event of trace.events) {
    const details = Object.entries(event.data)
      .map(([key, value]) => {
        const text = typeof value === 'string' ? value : JSON.stringify(value);
        return text.includes('\n') ? `${key}=\n      ${text.split('\n').join('\n      ')}` : `${key}=${text}`;
      })
      .join('  ');
    out.push(`+${event.elapsedMs.toFixed(3).padStart(9)} ms  ${event.name.padEnd(32)} ${details}`);
  }
  return `${out.join('\n')}\n`;
}
