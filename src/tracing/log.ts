/**
 * Gatehouse's own event log (not the access log): one line per event on stderr,
 * `time level message`. Private keys, passphrases and certificate bodies never go through here.
 */
export type Level = 'info' | 'warn' | 'error';

export interface EventLog {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

function write(level: Level, message: string): void {
  process.stderr.write(`${new Date().toISOString()} ${level} ${message}\n`);
}

export const eventLog: EventLog = {
  info: (message) => write('info', message),
  warn: (message) => write('warn', message),
  error: (message) => write('error', message),
};
