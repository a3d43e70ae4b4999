/**
 * What every command over the admin API shares: the connection flags (documented in each command's
 * --help, with the environment variables and exit codes), `--json`, and the action wrapper that prints an
 * AdminCliError as `gatehouse: <message>` and exits with its code.
 */
import { Command } from 'commander';
import { AdminCliError, apiRequest, ENV, resolveConnection, type Connection, type ConnectionOptions } from '../admin-client.js';

export interface AdminOptions extends ConnectionOptions {
  readonly json?: boolean;
}

export type Run = (action: () => Promise<number>) => void;

const HELP_AFTER = `
Connection (every command over the admin API):
  URL      --admin URL, else ${ENV.url}, else the config file's admin key
           (-c: address and port, https when it has a certificate; 0.0.0.0 and
           :: connect to loopback)
  sign-in  --token-file FILE, else ${ENV.tokenFile}, else
           ${ENV.token} (the token itself; never printed); or
           --cert FILE --key FILE (an admin badge; no token is sent with it)
  https    --ca FILE, else ${ENV.ca}; otherwise the system's CAs only
           (nothing is taken from the config file)

Exit codes: 0 done; 1 other errors (usage errors included); 3 not signed in or
not allowed (401, 403); 4 no such farm or server (404); 5 conflict (409, 412,
428: changed by someone else meanwhile).`;

/** A command over the admin API: the connection flags, --json, and the shared help. */
export function adminSubcommand(name: string, description: string): Command {
  return new Command(name)
    .description(description)
    .option('-c, --config <file>', 'config file whose admin key gives the URL when neither --admin nor GATEHOUSE_ADMIN_URL is set', 'gatehouse.yaml')
    .option('--admin <url>', `the admin listener, http(s)://HOST:PORT (env ${ENV.url})`)
    .option('--token-file <file>', `bearer token file, as \`gatehouse admin token\` writes it (env ${ENV.tokenFile}; or the token in ${ENV.token})`)
    .option('--cert <file>', 'admin badge: client certificate (PEM), with --key')
    .option('--key <file>', 'admin badge: its private key (PEM)')
    .option('--ca <file>', `CA certificate(s) (PEM) that issued an https admin listener's certificate (env ${ENV.ca}; default: the system's CAs only)`)
    .option('--json', "print the API's answer as JSON (for scripts; an API error's problem+json too, on stdout)")
    .addHelpText('after', HELP_AFTER);
}

/** Runs an admin command: connects, runs `body`, maps an AdminCliError to its message and exit code. */
export function runAdmin(run: Run, options: AdminOptions, body: (connection: Connection) => Promise<number>): void {
  run(async () => {
    try {
      return await body(await resolveConnection(options));
    } catch (error) {
      if (!(error instanceof AdminCliError)) throw error;
      // Scripts asking for JSON get the API's problem on stdout too; people read stderr.
      if (options.json && error.problem) printJson(error.problem);
      process.stderr.write(`gatehouse: ${error.message}\n`);
      return error.exitCode;
    }
  });
}

/** `--json`: the API's answer as it came, pretty-printed. */
export function printJson(value: unknown): number {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  return 0;
}

/** A read command's action: GET `path`, then --json prints the answer as it came, otherwise `render(answer)`. */
export function showAnswer(run: Run, options: AdminOptions, path: string, render: (answer: any) => string): void {
  runAdmin(run, options, async (connection) => {
    const { body } = await apiRequest(connection, 'GET', path);
    if (options.json) return printJson(body);
    process.stdout.write(render(body));
    return 0;
  });
}
