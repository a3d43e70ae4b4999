/** Pieces every page of ours repeats: an error loading the data, a table head (a write's notice: problems.tsx). */
export function ErrorLine(props: { readonly text: string | null }) {
  return props.text ? (
    <p class="error" role="alert">
      {props.text}
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
