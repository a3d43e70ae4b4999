/** Pieces every page of ours repeats: an error loading the data, the result of the last action, a table head. */
export type Notice = { readonly kind: 'done' | 'conflict' | 'error'; readonly text: string };

export function ErrorLine(props: { readonly text: string | null }) {
  return props.text ? (
    <p class="error" role="alert">
      {props.text}
    </p>
  ) : null;
}

/** Done: a status line; a conflict or an error: an alert. */
export function NoticeLine(props: { readonly notice: Notice | null; readonly testId: string }) {
  const { notice } = props;
  return notice ? (
    <p class={notice.kind === 'done' ? 'done' : 'error'} role={notice.kind === 'done' ? 'status' : 'alert'} data-testid={props.testId}>
      {notice.text}
    </p>
  ) : null;
}

/** A table's header row: one `<th scope="col">` per column name. */
export function Head(props: { readonly columns: readonly string[] }) {
  return (
    <thead>
      <tr>
        {props.columns.map((name) => (
          <th key={name} scope="col">
            {name}
          </th>
        ))}
      </tr>
    </thead>
  );
}
