/**
 * Where an access log's batches of lines go. A sink is given one batch at a time (the writer never has
 * two writes in flight) and rejects on any failure; the writer reports it and stops that log.
 */

export interface AccessLogSink {
  /** For messages: `stdout`, `stderr`, or the file or folder. */
  readonly name: string;
  /**
   * The rollover period (its start, ms since the epoch) of a line logged at `timeMs`: the writer keeps
   * the lines of two periods in separate batches. 0 for a sink that does not roll over by time.
   */
  periodOf(timeMs: number): number;
  /** Writes whole lines, all of period `period`. */
  write(text: string, period: number): Promise<void>;
  /** Releases the destination (closes a file; leaves stdout and stderr open). */
  close(): Promise<void>;
}

/** stdout or stderr. Its errors (EPIPE when the reader went away) reject the write instead of crashing. */
export class StreamSink implements AccessLogSink {
  readonly name: string;
  readonly #stream: NodeJS.WritableStream;
  #error: Error | undefined;
  readonly #onError = (error: Error): void => {
    this.#error ??= error;
  };

  constructor(stream: NodeJS.WritableStream, name: string) {
    this.#stream = stream;
    this.name = name;
    stream.on('error', this.#onError);
  }

  periodOf(): number {
    return 0;
  }

  write(text: string): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.#error) return reject(this.#error);
      try {
        this.#stream.write(text, (error?: Error | null) => (error || this.#error ? reject(this.#error ?? error) : resolve()));
      } catch (error) {
        reject(error as Error);
      }
    });
  }

  async close(): Promise<void> {
    this.#stream.off('error', this.#onError);
  }
}
