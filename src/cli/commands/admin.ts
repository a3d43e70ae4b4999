/**
 * `gatehouse admin token --name ci [-o FILE] [--role viewer]`: a new random bearer token for the admin API,
 * written to a file (mode 0600, whole or not at all, never over an existing file without --force), and
 * the `admin.users` line to add. The token is printed nowhere: scripts read the file.
 */
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { Command, Option } from 'commander';
import { ADMIN_ROLES, type AdminRole } from '../../config/admin-schema.js';
import { writeAtomic } from '../../pki/index.js';
import { CliError } from '../cli-error.js';

export interface TokenOptions {
  readonly name: string;
  readonly output?: string;
  readonly role: AdminRole;
  readonly force?: boolean;
}

export async function adminTokenCommand(options: TokenOptions): Promise<number> {
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(options.name)) throw new CliError(`--name ${options.name}: not a user name (expected letters, digits, dot, dash or underscore, 1-64)`);
  const file = options.output ?? `${options.name}.token`;
  const token = randomBytes(32).toString('base64url');
  try {
    await writeAtomic(resolve(file), `${token}\n`, 0o600, options.force === true);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new CliError(`${file} already exists (expected a new file; --force replaces it, and the old token stops working at the next reload)`);
    throw new CliError(`${file} cannot be written (${code ?? (error as Error).message})`);
  }
  process.stderr.write(`wrote a new token for ${options.name} to ${file} (mode 0600); add this line under admin.users, then reload:\n`);
  process.stdout.write(`    - { name: ${options.name}, tokenFile: ${file}, role: ${options.role} }\n`);
  return 0;
}

export function adminCommand(run: (action: () => Promise<number>) => void): Command {
  const admin = new Command('admin').description('the admin API: users and tokens');
  admin
    .command('token')
    .description('write a new random bearer token for an admin user to a file (0600) and print the admin.users line to add')
    .requiredOption('--name <name>', 'the token user\'s name, as the audit log shows it')
    .option('-o, --output <file>', 'token file (default <name>.token)')
    .addOption(new Option('--role <role>', 'the role of the line printed').choices([...ADMIN_ROLES]).default('viewer'))
    .option('--force', 'replace an existing token file')
    .action((options: TokenOptions) => run(() => adminTokenCommand(options)));
  return admin;
}
