/**
 * docs/benchmarks.svg: requests/s and p99 latency per peer and scenario, as small multiples (each
 * scenario has its own scale, since a 10 MB transfer and a 1 KB keep-alive request differ by 1000×).
 * Hand-written SVG, no dependency. Called by bench/run.ts.
 */
import { writeAtomic } from '../src/pki/write.js';

export interface ChartRow {
  peer: string;
  rps: number;
  p99Ms: number;
}

export interface ChartScenario {
  title: string;
  rows: ChartRow[];
}

const PALETTE = ['#6b7280', '#2563eb', '#16a34a', '#dc2626', '#9333ea', '#ea580c', '#0891b2', '#a16207'];

function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function fmt(value: number): string {
  if (value >= 100) return String(Math.round(value));
  if (value >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

export function renderChart(scenarios: ChartScenario[], subtitle: string): string {
  const peers = [...new Set(scenarios.flatMap((s) => s.rows.map((r) => r.peer)))];
  const color = new Map(peers.map((p, i) => [p, PALETTE[i % PALETTE.length] as string]));
  const width = 1000;
  const labelW = 250;
  const gap = 40;
  const panelW = (width - labelW - gap - 40) / 2;
  const rpsX = labelW;
  const p99X = labelW + panelW + gap;
  const barH = 14;
  const rowH = 18;
  const parts: string[] = [];
  let y = 28;
  parts.push(`<text x="20" y="${y}" font-size="18" font-weight="bold">Gatehouse benchmark: requests/s and p99 latency per peer and scenario</text>`);
  y += 20;
  parts.push(`<text x="20" y="${y}" font-size="12" fill="#555">${esc(subtitle)}</text>`);
  y += 22;
  // Legend.
  let lx = 20;
  for (const p of peers) {
    const w = 28 + p.length * 7;
    if (lx + w > width - 20) {
      lx = 20;
      y += 18;
    }
    parts.push(`<rect x="${lx}" y="${y - 10}" width="12" height="12" fill="${color.get(p)}"/><text x="${lx + 16}" y="${y}" font-size="12">${esc(p)}</text>`);
    lx += w;
  }
  y += 26;
  parts.push(`<text x="${rpsX}" y="${y}" font-size="13" font-weight="bold">requests/s (higher is better)</text>`);
  parts.push(`<text x="${p99X}" y="${y}" font-size="13" font-weight="bold">p99 latency, ms (lower is better)</text>`);
  y += 12;
  for (const scenario of scenarios) {
    if (scenario.rows.length === 0) continue;
    y += 18;
    parts.push(`<text x="20" y="${y}" font-size="13" font-weight="bold">${esc(scenario.title)}</text>`);
    y += 6;
    const maxRps = Math.max(...scenario.rows.map((r) => r.rps), 1);
    const maxP99 = Math.max(...scenario.rows.map((r) => r.p99Ms), 0.001);
    for (const row of scenario.rows) {
      const c = color.get(row.peer) as string;
      const wr = Math.max(1, (row.rps / maxRps) * (panelW - 70));
      const wp = Math.max(1, (row.p99Ms / maxP99) * (panelW - 70));
      parts.push(`<text x="${labelW - 8}" y="${y + barH - 3}" font-size="11" text-anchor="end">${esc(row.peer)}</text>`);
      parts.push(`<rect x="${rpsX}" y="${y}" width="${wr.toFixed(1)}" height="${barH}" fill="${c}"/>`);
      parts.push(`<text x="${(rpsX + wr + 4).toFixed(1)}" y="${y + barH - 3}" font-size="11">${fmt(row.rps)}</text>`);
      parts.push(`<rect x="${p99X}" y="${y}" width="${wp.toFixed(1)}" height="${barH}" fill="${c}" fill-opacity="0.75"/>`);
      parts.push(`<text x="${(p99X + wp + 4).toFixed(1)}" y="${y + barH - 3}" font-size="11">${fmt(row.p99Ms)}</text>`);
      y += rowH;
    }
    parts.push(`<line x1="20" y1="${y + 4}" x2="${width - 20}" y2="${y + 4}" stroke="#e5e7eb"/>`);
  }
  y += 20;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${y}" viewBox="0 0 ${width} ${y}" font-family="sans-serif">
<rect width="100%" height="100%" fill="#fff"/>
${parts.join('\n')}
</svg>
`;
}

export async function writeChart(file: string, scenarios: ChartScenario[], subtitle: string): Promise<void> {
  await writeAtomic(file, renderChart(scenarios, subtitle), 0o644, true);
}
