/** Process entry: a cluster worker runs Gatehouse for its primary; otherwise parse argv and run the command. */
import cluster from 'node:cluster';
import { buildProgram } from './cli/program.js';
import { WORKER_ENV } from './cluster/messages.js';
import { runWorker } from './cluster/worker.js';

async function runCli(): Promise<void> {
  const program = buildProgram((code) => {
    process.exitCode = code;
  });
  try {
    await program.parseAsync(process.argv);
  } catch (error) {
    process.stderr.write(`gatehouse: ${(error as Error).stack ?? String(error)}\n`);
    process.exitCode = 1;
  }
}

if (cluster.isWorker && process.env[WORKER_ENV] === '1') runWorker();
else await runCli();
