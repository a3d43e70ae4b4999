/**
 * The importer's report: one line per IIS element or attribute that could not be mapped exactly, as
 * `FILE:LINE element/@attribute: what Gatehouse does instead (or nothing)` (the issue's contract), then a
 * summary. Every part of the importer adds its lines here; the command prints them in file and line order.
 */
export interface ReportLine {
  /** The input file as the user named it (applicationHost.config, sslcert.txt). */
  readonly file: string;
  /** 1-based line of the element (0 when the line is unknown, e.g. a missing file). */
  readonly line: number;
  /** The element's path as IIS names it: `webFarm[@name='appFarm']/applicationRequestRouting/healthCheck`, `site[@name='Default Web Site']/bindings/binding`. */
  readonly element: string;
  /** The attribute, without `@` (omitted when the whole element is concerned). */
  readonly attribute?: string;
  /** What Gatehouse does instead, or that nothing is done, and what the user may do. */
  readonly text: string;
}

export function formatReportLine(line: ReportLine): string {
  return `${line.file}:${line.line} ${line.element}${line.attribute === undefined ? '' : `/@${line.attribute}`}: ${line.text}`;
}

/** File order, then line order (stable for lines of one element). */
export function sortReport(lines: readonly ReportLine[]): ReportLine[] {
  return [...lines].sort((a, b) => (a.file === b.file ? a.line - b.line : a.file < b.file ? -1 : 1));
}

/**
 * Collects report lines; the parts of the importer share one. A line already held (the same text at the
 * same place) is not added again: server-level elements are read once for every site that inherits them.
 */
export class Report {
  readonly #lines: ReportLine[] = [];
  readonly #seen = new Set<string>();

  add(line: ReportLine): void {
    const key = formatReportLine(line);
    if (this.#seen.has(key)) return;
    this.#seen.add(key);
    this.#lines.push(line);
  }

  get lines(): readonly ReportLine[] {
    return sortReport(this.#lines);
  }

  get size(): number {
    return this.#lines.length;
  }
}
