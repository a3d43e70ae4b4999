/**
 * Open WebSocket tunnels, per listener: a drain lets them run until its timeout and then closes them (node's
 * HTTP server no longer tracks a connection once it is upgraded, so nothing else would), and the metrics
 * count them.
 */
import type { Duplex } from 'node:stream';

export class Tunnels {
  readonly #open = new Map<object, Set<Duplex>>();
  #count = 0;

  /** A tunnel of `listener` is open; it leaves the set when its client connection closes. */
  add(listener: object, socket: Duplex): void {
    let set = this.#open.get(listener);
    if (!set) this.#open.set(listener, (set = new Set()));
    set.add(socket);
    this.#count++;
    socket.once('close', () => {
      if (set.delete(socket)) this.#count--;
    });
  }

  /** Open tunnels in all. */
  get count(): number {
    return this.#count;
  }

  /** Open tunnels of one listener. */
  countOf(listener: object): number {
    return this.#open.get(listener)?.size ?? 0;
  }

  /** Closes every tunnel of `listener` now (the drain timeout is over). Returns how many there were. */
  closeAll(listener: object): number {
    const set = this.#open.get(listener);
    if (!set) return 0;
    const count = set.size;
    for (const socket of set) socket.destroy();
    this.#open.delete(listener);
    return count;
  }
}
