/** Pieces the certificate and site forms share: a form's submit / Cancel buttons and IIS's "Are you sure?" for a removal. */
import type { ComponentChildren } from 'preact';

export function FormButtons(props: { readonly submit: string; readonly busy: boolean; readonly onCancel: () => void }) {
  return (
    <div class="buttons">
      <button type="submit" class="primary" disabled={props.busy}>
        {props.submit}
      </button>
      <button type="button" onClick={props.onCancel}>
        Cancel
      </button>
    </div>
  );
}

/** A removal asked once more, in the page (no browser dialog): Yes, remove / Cancel. */
export function ConfirmRemove(props: { readonly children: ComponentChildren; readonly busy: boolean; readonly onYes: () => void; readonly onCancel: () => void }) {
  return (
    <div class="confirm" role="group" aria-labelledby="confirm-text">
      <p id="confirm-text">{props.children}</p>
      <button type="button" disabled={props.busy} onClick={props.onYes}>
        Yes, remove
      </button>
      <button type="button" onClick={props.onCancel}>
        Cancel
      </button>
    </div>
  );
}
