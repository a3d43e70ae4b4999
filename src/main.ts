/** Process entry: parse argv, run the command, exit with its code. */
import { buildProgram } from './cli/program.js';

const program = buildProgram((code) => {
  process.exitCode = code;
});
try {
  await program.parseAsync(process.argv);
} catch (error) {
  process.stderr.write(`gatehouse: ${(error as Error).stack ?? String(error)}\n`);
  process.exitCode = 1;
}
