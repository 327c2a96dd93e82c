/** Sign in with a user and password (a browser session), or paste an API token. */
import { useState } from 'preact/hooks';
import { login, withToken, type Me } from '../session';
import { FieldError, FormError } from '../ui';
import { ApiError } from '../api';

export function LoginPage({ onSignedIn }: { onSignedIn: (me: Me) => void }) {
  const [error, setError] = useState<unknown>(undefined);
  const [busy, setBusy] = useState(false);
  const [mode, setMode] = useState<'password' | 'token'>('password');
  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    const f = new FormData(e.currentTarget as HTMLFormElement);
    setBusy(true);
    setError(undefined);
    try {
      const me = mode === 'password'
        ? await login(String(f.get('user') ?? ''), String(f.get('password') ?? ''), String(f.get('tenant') ?? '') || undefined)
        : await withToken(String(f.get('token') ?? '').trim());
      onSignedIn(me);
    } catch (err) {
      // a refused token is about the token field; a refused user or password about both, as the server says it
      setError(mode === 'token' && err instanceof ApiError && err.status === 401 ? new ApiError(401, err.code, err.message, { parameter: 'token' }, false) : err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <main class="login" id="main">
      <h1>Nubis console</h1>
      <div role="tablist" class="tabs">
        <button type="button" role="tab" aria-selected={mode === 'password'} onClick={() => setMode('password')}>User and password</button>
        <button type="button" role="tab" aria-selected={mode === 'token'} onClick={() => setMode('token')}>API token</button>
      </div>
      <form onSubmit={submit} aria-label="sign in">
        {mode === 'password' ? (
          <>
            <label>User <input name="user" autocomplete="username" required aria-describedby="err-user" /></label>
            <FieldError error={error} field="user" id="err-user" />
            <label>Password <input name="password" type="password" autocomplete="current-password" required aria-describedby="err-password" /></label>
            <FieldError error={error} field="password" id="err-password" />
            <label>Tenant (optional) <input name="tenant" aria-describedby="err-tenant" /></label>
            <FieldError error={error} field="tenant" id="err-tenant" />
          </>
        ) : (
          <>
            <label>API token <input name="token" type="password" autocomplete="off" required aria-describedby="err-token" /></label>
            <FieldError error={error} field="token" id="err-token" />
            <p class="muted">Kept in this tab only (sessionStorage) and sent as a bearer header.</p>
          </>
        )}
        <FormError error={error} fields={['user', 'password', 'tenant', 'token']} />
        <button type="submit" disabled={busy}>Sign in</button>
      </form>
    </main>
  );
}
