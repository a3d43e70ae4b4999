/**
 * Plain-text tables and key/value lists for the admin commands: column widths fit the content, numbers
 * right-aligned, two spaces between columns, no colours (the output is the same on a terminal and in a
 * pipe).
 */

export interface Column {
  readonly header: string;
  /** Right-aligned (numbers). */
  readonly right?: boolean;
}

export function renderTable(columns: readonly Column[], rows: readonly (readonly string[])[]): string {
  const widths = columns.map((column, i) => Math.max(column.header.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    columns
      .map((column, i) => {
        const cell = cells[i] ?? '';
        const width = widths[i] as number;
        return column.right ? cell.padStart(width) : i === columns.length - 1 ? cell : cell.padEnd(width);
      })
      .join('  ')
      .trimEnd();
  return `${[line(columns.map((c) => c.header)), ...rows.map(line)].join('\n')}\n`;
}

/** `key   value` lines, keys padded to the longest. */
export function renderPairs(pairs: readonly (readonly [string, string])[]): string {
  const width = Math.max(0, ...pairs.map(([key]) => key.length));
  return `${pairs.map(([key, value]) => `${key.padEnd(width)}  ${value}`.trimEnd()).join('\n')}\n`;
}

export { formatBytes } from '../shared/format-bytes.js';

/** 3725 → `1h 02m 05s`. */
export function formatDuration(seconds: number): string {
  const s = Math.floor(seconds);
  const d = Math.floor(s / 86_400);
  const h = Math.floor((s % 86_400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = s % 60;
  const two = (n: number) => String(n).padStart(2, '0');
  if (d > 0) return `${d}d ${two(h)}h ${two(m)}m`;
  if (h > 0) return `${h}h ${two(m)}m ${two(rest)}s`;
  if (m > 0) return `${m}m ${two(rest)}s`;
  return `${rest}s`;
}

/** A number as people read it in a table: up to two decimals. */
export function formatNumber(value: number | null | undefined): string {
  if (value === null || value === undefined) return '-';
  return Number.isInteger(value) ? String(value) : String(Math.round(value * 100) / 100);
}

/** A settings object on one line: `url=/health interval=30s`; nested values as JSON. */
export function formatSettings(value: Record<string, unknown> | null | undefined): string {
  if (!value) return 'none';
  const parts = Object.entries(value)
    .filter(([, v]) => v !== undefined && v !== null)
    .map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`);
  return parts.length ? parts.join(' ') : 'none';
}
