/** `gatehouse validate [-c FILE]`: checks the config and its files without binding anything. */
import { loadConfig } from '../../config/load.js';
import { ConfigError } from '../../config/problem.js';

export async function validateCommand(options: { config: string }): Promise<number> {
  try {
    const { warnings } = await loadConfig(options.config);
    for (const line of warnings) process.stderr.write(`${line}\n`);
    process.stdout.write('ok\n');
    return 0;
  } catch (error) {
    if (error instanceof ConfigError) {
      for (const line of error.lines) process.stdout.write(`${line}\n`);
      return 1;
    }
    throw error;
  }
}
