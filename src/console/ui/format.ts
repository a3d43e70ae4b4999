/** How the console writes numbers, sizes and times. */
export const number = (n: number): string => n.toLocaleString('en-US');
export { formatBytes as bytes } from '../../shared/format-bytes';
export const ms = (n: number | null): string => (n === null ? '–' : `${n.toFixed(1)} ms`);
export function when(iso: string): string {
  const date = new Date(iso);
  return `${date.toISOString().replace('T', ' ').slice(0, 19)} UTC`;
}
/** ARR's names for a server's availability. */
export const STATE_NAMES: Readonly<Record<string, string>> = { available: 'Available', drain: 'Drain (no new connections)', unavailable: 'Unavailable' };
