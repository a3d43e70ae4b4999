/** Page data that refreshes every few seconds and soon after a live event (coalesced), plus its errors. */
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { ApiError } from './api';

export const REFRESH_MS = 3000;
/** Events come in bursts (a drain: state + admin events): one refresh for a burst. */
const EVENT_DELAY_MS = 250;

export function useLive<T>(load: () => Promise<T>, eventTick: number, deps: readonly unknown[] = []) {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  const loading = useRef<Promise<void> | null>(null);
  const refresh = useCallback(async () => {
    const run = (async () => {
      try {
        setData(await load());
        setError(null);
      } catch (e) {
        setError(e instanceof ApiError ? `${e.status} ${e.code}: ${e.message}` : `the admin API cannot be reached (${String(e)})`);
      }
    })();
    loading.current = run;
    await run;
  }, deps);
  useEffect(() => {
    void refresh();
    const timer = setInterval(() => void refresh(), REFRESH_MS);
    return () => clearInterval(timer);
  }, [refresh]);
  useEffect(() => {
    if (eventTick === 0) return;
    const timer = setTimeout(() => void refresh(), EVENT_DELAY_MS);
    return () => clearTimeout(timer);
  }, [eventTick, refresh]);
  return { data, error, refresh };
}
