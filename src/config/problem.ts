/** One thing wrong with a config file, located by key path (and, once resolved, by line). */
export interface Problem {
  /** Key path inside the config, e.g. ['sites', 0, 'bindings', 1, 'port']; [] for the whole file. */
  readonly path: readonly (string | number)[];
  /** What is wrong. */
  readonly message: string;
  /** What was expected instead. */
  readonly expected?: string;
  /** A key that is itself wrong (unknown key): the line is the key's, the path its parent's plus it. */
  readonly key?: string;
}

/** `sites[0].bindings[1].port`; `(file)` for the whole file. */
export function formatPath(path: readonly (string | number)[]): string {
  let out = '';
  for (const part of path) out += typeof part === 'number' ? `[${part}]` : out ? `.${part}` : part;
  return out || '(file)';
}

/** The contract's line: `FILE:LINE key.path: what is wrong (what was expected)`. */
export function formatProblem(file: string, line: number, problem: Problem): string {
  const path = problem.key === undefined ? problem.path : [...problem.path, problem.key];
  const expected = problem.expected ? ` (expected ${problem.expected})` : '';
  return `${file}:${line} ${formatPath(path)}: ${problem.message}${expected}`;
}

/** Raised by loadConfig when the file has problems; `lines` are ready to print. */
export class ConfigError extends Error {
  readonly code = 'ERR_CONFIG_INVALID';
  constructor(readonly file: string, readonly lines: readonly string[]) {
    super(`${file}: ${lines.length} problem${lines.length === 1 ? '' : 's'}\n${lines.join('\n')}`);
    this.name = 'ConfigError';
  }
}
