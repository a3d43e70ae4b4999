/**
 * `gatehouse server drain|available|unavailable FARM ADDRESS [--persist]` and `gatehouse server
 * healthy|unhealthy FARM ADDRESS`: ARR's Monitoring actions over the admin API. Each reads the farm (its
 * ETag), then writes with If-Match; on 412 (the farm changed meanwhile) it reads the farm again and retries
 * once, only when the server still is not as asked (otherwise someone else got there first: exit 5).
 */
import { Command, Option } from 'commander';
import { AdminCliError, apiRequest, EXIT, segment, type Connection } from '../admin-client.js';
import { adminSubcommand, printJson, runAdmin, type AdminOptions, type Run } from './admin-connection.js';

type Change = { readonly kind: 'state'; readonly state: 'available' | 'drain' | 'unavailable'; readonly persist: boolean } | { readonly kind: 'health'; readonly healthy: boolean };

interface ServerOptions extends AdminOptions {
  readonly persist?: boolean;
  /** Hidden: the ETag of the first write instead of the one just read (tests the 412 handling). */
  readonly ifMatch?: string;
}

interface ServerView {
  address: string;
  state: string;
  health: string;
}

const asked = (change: Change): string => (change.kind === 'state' ? change.state : change.healthy ? 'healthy' : 'unhealthy');
const currentOf = (server: ServerView, change: Change): string => (change.kind === 'state' ? server.state : server.health);

/** Applies one change to a server; resolves with the API's answer (the operation, before, after, the farm). */
export async function changeServer(connection: Connection, farm: string, address: string, change: Change, ifMatch?: string): Promise<any> {
  const farmPath = `/farms/${segment(farm)}`;
  const readEtag = async () => {
    const { headers, body } = await apiRequest(connection, 'GET', farmPath);
    return { etag: String(headers.etag ?? ''), servers: (body as { servers: ServerView[] }).servers };
  };
  const write = (etag: string) =>
    change.kind === 'state'
      ? apiRequest(connection, 'PUT', `${farmPath}/servers/${segment(address)}/state`, { body: { state: change.state, persist: change.persist }, ifMatch: etag })
      : apiRequest(connection, 'POST', `${farmPath}/servers/${segment(address)}/health`, { body: { healthy: change.healthy }, ifMatch: etag });
  const first = ifMatch ?? (await readEtag()).etag;
  try {
    return (await write(first)).body;
  } catch (error) {
    if (!(error instanceof AdminCliError) || error.status !== 412) throw error;
    const fresh = await readEtag();
    const server = fresh.servers.find((s) => s.address === address);
    if (server && currentOf(server, change) === asked(change)) {
      throw new AdminCliError(`${error.message}\n  ${address} is ${asked(change)} already: it was changed by someone else meanwhile (not retried)`, EXIT.conflict, 412, error.problem);
    }
    return (await write(fresh.etag)).body;
  }
}

/** `farm web: 127.0.0.1:8081 available → drain` (or `… drain (unchanged)`). */
export function describeChange(farm: string, address: string, change: Change, answer: { changed?: boolean; before?: Record<string, unknown>; after?: Record<string, unknown> }): string {
  const key = change.kind === 'state' ? 'state' : 'health';
  const before = String(answer.before?.[key] ?? '?');
  const after = String(answer.after?.[key] ?? asked(change));
  return answer.changed === false || before === after ? `farm ${farm}: ${address} ${after} (unchanged)\n` : `farm ${farm}: ${address} ${before} → ${after}\n`;
}

function serverAction(run: Run, name: string, description: string, change: (options: ServerOptions) => Change, persist: boolean): Command {
  const command = adminSubcommand(name, description).argument('<farm>', "the farm's name").argument('<address>', "the server's address, host:port as the farm lists it");
  if (persist) command.option('--persist', 'also write the state into the config file (default: run-time state, kept across reloads, not across a restart)');
  command.addOption(new Option('--if-match <etag>', 'the ETag of the first write (default: the one just read)').hideHelp());
  return command.action((farm: string, address: string, options: ServerOptions) =>
    runAdmin(run, options, async (connection) => {
      const wanted = change(options);
      const answer = await changeServer(connection, farm, address, wanted, options.ifMatch);
      if (options.json) return printJson(answer);
      process.stdout.write(describeChange(farm, address, wanted, answer));
      return 0;
    }),
  );
}

export function serverCommand(run: Run): Command {
  const server = new Command('server').description("a farm server's state and health over the admin API (ARR's Monitoring actions)");
  const state = (value: 'available' | 'drain' | 'unavailable') => (options: ServerOptions): Change => ({ kind: 'state', state: value, persist: options.persist === true });
  server.addCommand(serverAction(run, 'drain', "disallow new connections (ARR's Drain): clients with affinity keep the server, new ones go elsewhere", state('drain'), true));
  server.addCommand(serverAction(run, 'available', 'make the server available: it takes new requests again', state('available'), true));
  server.addCommand(serverAction(run, 'unavailable', "make the server unavailable (ARR's Make Unavailable): no requests at all, affinity or not", state('unavailable'), true));
  server.addCommand(serverAction(run, 'healthy', "mark the server healthy (ARR's Mark as Healthy); the health test may change it again", () => ({ kind: 'health', healthy: true }), false));
  server.addCommand(serverAction(run, 'unhealthy', "mark the server unhealthy (ARR's Mark as Unhealthy); the health test may change it again", () => ({ kind: 'health', healthy: false }), false));
  return server;
}
