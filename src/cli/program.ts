/**
 * The `gatehouse` command line: one sub-command per file in commands/. The commands that run Gatehouse
 * (start, demo) are loaded when chosen: the request path refuses to load on a Node without what it needs
 * (src/platform/), and `gatehouse doctor` must still run there to say so.
 */
import { Command } from 'commander';
import { certCommand } from './commands/cert/index.js';
import { adminCommand } from './commands/admin.js';
import { CliError } from './cli-error.js';
import { certsCommand } from './commands/certs.js';
import { farmCommand } from './commands/farm.js';
import { serverCommand } from './commands/server.js';
import { statusCommand } from './commands/status.js';
import type { DemoOptions } from './commands/demo.js';
import { doctorCommand } from './commands/doctor.js';
import { importCommand } from './commands/import.js';
import { tracesCommand } from './commands/traces.js';
import { validateCommand } from './commands/validate.js';

export function buildProgram(setExitCode: (code: number) => void): Command {
  const program = new Command('gatehouse')
    .description('Application request routing for Node.js: TLS termination, client-certificate policy and ARR-compatible forwarding to a web farm.')
    .showHelpAfterError();
  const run = (action: () => Promise<number>) =>
    action().then(setExitCode, (error: unknown) => {
      if (!(error instanceof CliError)) throw error;
      process.stderr.write(`gatehouse: ${error.message}\n`);
      setExitCode(1);
    });
  program
    .command('start')
    .description('run Gatehouse in the foreground from a config file')
    .option('-c, --config <file>', 'config file (YAML or JSON)', 'gatehouse.yaml')
    .action((options: { config: string }) => run(async () => (await import('./commands/start.js')).startCommand(options)));
  program
    .command('validate')
    .description('check a config file and the files it names, without binding; prints ok or one line per problem')
    .option('-c, --config <file>', 'config file (YAML or JSON)', 'gatehouse.yaml')
    .action((options: { config: string }) => run(() => validateCommand(options)));
  program
    .command('demo')
    .description('the embedded default (npm start): a test CA, certificates, two demo backends and Gatehouse requiring client certificates in front of them')
    .option('--state <dir>', 'state folder for the demo certificates and config (reused on the next run)', '.gatehouse/demo')
    .option('--port <port>', 'https port', '8443')
    .option('--http-port <port>', 'http port (answers 403.4: SSL required)', '8080')
    .option('--admin-port <port>', 'admin listener port: the console and the admin API (https)', '9443')
    .action((options: DemoOptions) => run(async () => (await import('./commands/demo.js')).demoCommand(options)));
  program
    .command('doctor')
    .description("what this Node.js gives Gatehouse: each node internal it uses, probed by behaviour (fast path active, or which fallback and why), and whether HTTP/2 is safe; exits 0")
    .option('--json', 'the report as JSON')
    .action((options: { json?: boolean }) => run(() => doctorCommand(options)));
  program.addCommand(certCommand(run));
  program.addCommand(tracesCommand(run));
  program.addCommand(importCommand(run));
  program.addCommand(adminCommand(run));
  // Commands over the admin API of a running Gatehouse (for scripts, as appcmd is for IIS).
  program.addCommand(farmCommand(run));
  program.addCommand(serverCommand(run));
  program.addCommand(certsCommand(run));
  program.addCommand(statusCommand(run));
  return program;
}
