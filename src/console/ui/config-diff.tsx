/**
 * A unified diff of two texts (jsdiff's structuredPatch, 3 lines of context), as a table: the old and new
 * line numbers, the change marked in words and colour (`−` removed, `+` added) and the line's text.
 */
import { structuredPatch } from 'diff';
import { useMemo } from 'preact/hooks';

export interface DiffSpec {
  readonly title: string;
  readonly oldName: string;
  readonly newName: string;
  readonly oldText: string;
  readonly newText: string;
}

interface Row {
  readonly kind: 'hunk' | 'same' | 'del' | 'add' | 'note';
  readonly oldLine?: number;
  readonly newLine?: number;
  readonly text: string;
}

function rowsOf(spec: DiffSpec): { rows: Row[]; removed: number; added: number } {
  const patch = structuredPatch(spec.oldName, spec.newName, spec.oldText, spec.newText, undefined, undefined, { context: 3 });
  const rows: Row[] = [];
  let removed = 0;
  let added = 0;
  for (const hunk of patch.hunks) {
    rows.push({ kind: 'hunk', text: `@@ −${hunk.oldStart},${hunk.oldLines} +${hunk.newStart},${hunk.newLines} @@` });
    let oldLine = hunk.oldStart;
    let newLine = hunk.newStart;
    for (const line of hunk.lines) {
      const mark = line[0];
      const text = line.slice(1);
      if (mark === '-') {
        rows.push({ kind: 'del', oldLine: oldLine++, text });
        removed++;
      } else if (mark === '+') {
        rows.push({ kind: 'add', newLine: newLine++, text });
        added++;
      } else if (mark === '\\') rows.push({ kind: 'note', text: line.slice(2) });
      else rows.push({ kind: 'same', oldLine: oldLine++, newLine: newLine++, text });
    }
  }
  return { rows, removed, added };
}

const MARKS: Readonly<Record<Row['kind'], string>> = { hunk: '', same: '', del: '−', add: '+', note: '' };
const WORDS: Readonly<Record<Row['kind'], string>> = { hunk: '', same: '', del: 'removed', add: 'added', note: '' };

export function DiffView(props: { readonly spec: DiffSpec; readonly onClose: () => void }) {
  const { spec } = props;
  const { rows, removed, added } = useMemo(() => rowsOf(spec), [spec]);
  return (
    <section class="diff-view" aria-labelledby="diff-title" data-testid="diff">
      <div class="diff-head">
        <h2 id="diff-title">{spec.title}</h2>
        <button type="button" onClick={props.onClose}>
          Close diff
        </button>
      </div>
      <p class="hint">
        <span class="diff-del-text">− {spec.oldName}</span> · <span class="diff-add-text">+ {spec.newName}</span> ·{' '}
        {rows.length === 0 ? 'no differences: the two are the same' : `${removed} line${removed === 1 ? '' : 's'} removed, ${added} added`}
      </p>
      {rows.length > 0 && (
        <div class="scroll">
          <table class="diff">
            <thead>
              <tr>
                <th scope="col">Old</th>
                <th scope="col">New</th>
                <th scope="col">
                  <span class="sr-only">Change</span>
                </th>
                <th scope="col">Line</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((row, i) =>
                row.kind === 'hunk' || row.kind === 'note' ? (
                  <tr key={i} class={`diff-${row.kind}`}>
                    <td colSpan={4}>{row.text}</td>
                  </tr>
                ) : (
                  <tr key={i} class={`diff-${row.kind}`} data-change={row.kind}>
                    <td class="num">{row.oldLine ?? ''}</td>
                    <td class="num">{row.newLine ?? ''}</td>
                    <td class="diff-mark" title={WORDS[row.kind]}>
                      {MARKS[row.kind]}
                      {WORDS[row.kind] && <span class="sr-only"> {WORDS[row.kind]}</span>}
                    </td>
                    <td>
                      <code>{row.text}</code>
                    </td>
                  </tr>
                ),
              )}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
