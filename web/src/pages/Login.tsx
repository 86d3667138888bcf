// Sign-in: email and password, a passkey, or a recovery link for a forgotten password.

import { useState, type FormEvent } from 'react';
import { Navigate, useNavigate, useSearchParams } from 'react-router-dom';
import { ApiError, endpoints, errorMessage, type Session } from '../api';
import { useSession } from '../session';
import { passkeysSupported, signInWithPasskey } from '../webauthn';
import { AuthCard, Loading } from '../ui';

export function loginErrorMessage(e: unknown): string {
  if (e instanceof ApiError) {
    if (e.status === 401) return 'Wrong email or password';
    if (e.status === 429) {
      return e.retryAfter !== undefined
        ? `Too many attempts, try again in ${Math.ceil(e.retryAfter)} s`
        : 'Too many attempts, try again later';
    }
  }
  return errorMessage(e);
}

export function LoginPage() {
  const { state, signedIn } = useSession();
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const [mode, setMode] = useState<'password' | 'recover'>('password');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [recoverySent, setRecoverySent] = useState(false);

  if (state.status === 'loading') return <Loading />;
  if (state.status === 'signed-in' && !busy) return <Navigate to={safeNext(params.get('next'))} replace />;

  function done(s: Session) {
    signedIn(s);
    navigate(safeNext(params.get('next')), { replace: true });
  }

  async function submitPassword(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      done(await endpoints.login(email.trim(), password));
    } catch (err) {
      setError(loginErrorMessage(err));
    } finally {
      setBusy(false);
    }
  }

  async function passkey() {
    setError(null);
    if (!email.trim()) {
      setError('Enter your email first, then sign in with your passkey.');
      return;
    }
    setBusy(true);
    try {
      done(await signInWithPasskey(email.trim()));
    } catch (err) {
      setError(err instanceof ApiError && err.status === 401 ? 'That passkey was not accepted.' : loginErrorMessage(err));
    } finally {
      setBusy(false);
    }
  }

  async function submitRecovery(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await endpoints.startRecovery(email.trim());
      setRecoverySent(true);
    } catch (err) {
      setError(loginErrorMessage(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <AuthCard>
        {mode === 'password' ? (
          <>
            <h1>Sign in</h1>
            <form onSubmit={submitPassword} data-testid="login-form" className="form">
              <label>
                Email
                <input
                  type="email"
                  name="email"
                  autoComplete="username webauthn"
                  required
                  value={email}
                  onChange={(e) => setEmail(e.target.value)}
                  data-testid="login-email"
                />
              </label>
              <label>
                Password
                <input
                  type="password"
                  name="password"
                  autoComplete="current-password"
                  required
                  value={password}
                  onChange={(e) => setPassword(e.target.value)}
                  data-testid="login-password"
                />
              </label>
              {error && (
                <div className="alert alert-error" role="alert" data-testid="login-error">
                  {error}
                </div>
              )}
              <button className="btn btn-primary" type="submit" disabled={busy} data-testid="login-submit">
                {busy ? 'Signing in…' : 'Sign in'}
              </button>
            </form>
            <div className="divider">or</div>
            <button
              className="btn btn-block"
              onClick={() => void passkey()}
              disabled={busy || !passkeysSupported()}
              data-testid="passkey-signin"
              title={passkeysSupported() ? undefined : 'This browser does not support passkeys'}
            >
              Sign in with a passkey
            </button>
            <p className="auth-footer">
              <button
                className="link-btn"
                data-testid="forgot-password"
                onClick={() => {
                  setMode('recover');
                  setError(null);
                  setRecoverySent(false);
                }}
              >
                Forgot password?
              </button>
            </p>
          </>
        ) : (
          <>
            <h1>Reset your password</h1>
            {recoverySent ? (
              <div className="alert alert-ok" role="status" data-testid="recovery-sent">
                If an account exists for {email.trim() || 'that email'}, we sent it a link to set a new password.
                The link works once and expires soon.
              </div>
            ) : (
              <form onSubmit={submitRecovery} className="form" data-testid="recovery-form">
                <p className="muted">Enter your email and we will send you a one-time link to set a new password.</p>
                <label>
                  Email
                  <input
                    type="email"
                    required
                    autoComplete="username"
                    value={email}
                    onChange={(e) => setEmail(e.target.value)}
                    data-testid="recovery-email"
                  />
                </label>
                {error && (
                  <div className="alert alert-error" role="alert" data-testid="login-error">
                    {error}
                  </div>
                )}
                <button className="btn btn-primary" type="submit" disabled={busy} data-testid="recovery-submit">
                  {busy ? 'Sending…' : 'Send recovery link'}
                </button>
              </form>
            )}
            <p className="auth-footer">
              <button className="link-btn" data-testid="back-to-login" onClick={() => { setMode('password'); setError(null); }}>
                Back to sign in
              </button>
            </p>
          </>
        )}
    </AuthCard>
  );
}

/** Only follow same-site paths after sign-in, never another origin. */
export function safeNext(next: string | null): string {
  if (next && next.startsWith('/') && !next.startsWith('//') && !next.startsWith('/login')) return next;
  return '/';
}
