// Set a new password from a one-time link (account recovery and invitations land here).

import { useState, type FormEvent } from 'react';
import { Link, useNavigate, useSearchParams } from 'react-router-dom';
import { ApiError, endpoints, errorMessage } from '../api';
import { useSession } from '../session';
import { AuthCard } from '../ui';

const MIN_LENGTH = 10;

export function RecoverPage() {
  const [params] = useSearchParams();
  const token = params.get('token') ?? '';
  const { signedIn } = useSession();
  const navigate = useNavigate();
  const [password, setPassword] = useState('');
  const [confirm, setConfirm] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setError(null);
    if (password.length < MIN_LENGTH) return setError(`Use at least ${MIN_LENGTH} characters.`);
    if (password !== confirm) return setError('The two passwords do not match.');
    setBusy(true);
    try {
      const s = await endpoints.completeRecovery(token, password);
      signedIn(s);
      navigate('/', { replace: true });
    } catch (err) {
      if (err instanceof ApiError && (err.status === 404 || err.status === 410 || err.code === 'invalid_token')) {
        setError('This link is invalid, already used or expired. Ask for a new one from the sign-in page.');
      } else {
        setError(errorMessage(err));
      }
    } finally {
      setBusy(false);
    }
  }

  return (
    <AuthCard>
        <h1>Set a new password</h1>
        {!token ? (
          <div className="alert alert-error" role="alert" data-testid="recover-error">
            This link is missing its token. Open the link from your email again, or ask for a new one.
          </div>
        ) : (
          <form className="form" onSubmit={submit} data-testid="recover-form">
            <label>
              New password
              <input
                type="password"
                autoComplete="new-password"
                required
                value={password}
                onChange={(e) => setPassword(e.target.value)}
                data-testid="recover-password"
              />
            </label>
            <label>
              Repeat the new password
              <input
                type="password"
                autoComplete="new-password"
                required
                value={confirm}
                onChange={(e) => setConfirm(e.target.value)}
                data-testid="recover-confirm"
              />
            </label>
            <p className="hint">At least {MIN_LENGTH} characters.</p>
            {error && (
              <div className="alert alert-error" role="alert" data-testid="recover-error">
                {error}
              </div>
            )}
            <button className="btn btn-primary" type="submit" disabled={busy} data-testid="recover-submit">
              {busy ? 'Saving…' : 'Set password and sign in'}
            </button>
          </form>
        )}
        <p className="auth-footer">
          <Link to="/login">Back to sign in</Link>
        </p>
    </AuthCard>
  );
}
