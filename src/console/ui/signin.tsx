/**
 * Sign-in: a client certificate the browser presented is tried first (GET /whoami with no token); when it
 * is not an admin user, a token typed here is checked the same way and kept in sessionStorage.
 */
import { useState } from 'preact/hooks';
import { ApiError, call, saveToken, type Whoami } from './api';
import { ErrorLine } from './notice';

export function SignIn(props: { readonly reason: string; readonly onSignedIn: (who: Whoami) => void }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const who = await call<Whoami>('GET', '/whoami', { token: token.trim() });
      saveToken(token.trim());
      props.onSignedIn(who.body);
    } catch (e) {
      setError(e instanceof ApiError ? `${e.status}: ${e.message}` : String(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="signin" aria-labelledby="signin-title">
      <h1 id="signin-title">Gatehouse console: sign in</h1>
      <p>Sign in with an administrator's client certificate (your browser presents it when it has one) or with an admin API token.</p>
      <p class="note" role="status">{props.reason}</p>
      <form onSubmit={submit}>
        <label for="token">Token</label>
        <input id="token" name="token" type="password" autocomplete="off" required value={token} onInput={(e) => setToken((e.target as HTMLInputElement).value)} />
        <button type="submit" disabled={busy || token.trim() === ''}>Sign in</button>
      </form>
      <ErrorLine text={error} />
      <p class="hint">The token stays in this tab only (sessionStorage) and is sent as <code>Authorization: Bearer</code>. Make one with <code>gatehouse admin token</code>.</p>
    </main>
  );
}
