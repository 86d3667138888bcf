// Settings → API tokens: tokens let scripts and load tests call the API as this workspace.
// A new token is shown exactly once; the server keeps only a hash and a short prefix.

import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { endpoints, errorMessage, type ApiToken } from '../../api';
import { useWorkspace } from '../../shell/Shell';
import { CopyButton } from '../../CopyButton';
import { ErrorBanner, formatDate, Loading, PageHeader } from '../../ui';

export function TokensPage() {
  const workspace = useWorkspace();
  const [tokens, setTokens] = useState<ApiToken[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [name, setName] = useState('');
  const [busy, setBusy] = useState(false);
  const [created, setCreated] = useState<{ name: string; token: string } | null>(null);

  const load = useCallback(async () => {
    try {
      setTokens(await endpoints.tokens(workspace.workspace_id));
      setError(null);
    } catch (e) {
      setError(errorMessage(e));
    }
  }, [workspace.workspace_id]);

  useEffect(() => {
    setTokens(null);
    setCreated(null);
    void load();
  }, [load]);

  async function create(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const res = await endpoints.createToken(workspace.workspace_id, name.trim());
      setCreated({ name: res.name, token: res.token });
      setName('');
      await load();
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  }

  async function revoke(id: string) {
    setError(null);
    try {
      await endpoints.revokeToken(workspace.workspace_id, id);
      await load();
    } catch (err) {
      setError(errorMessage(err));
    }
  }

  return (
    <div className="page">
      <PageHeader
        title="API tokens"
        description={`Tokens authenticate scripts against ${workspace.name}'s API. Send one as "Authorization: Bearer <token>".`}
      />
      <section className="card">
        <h2>Create a token</h2>
        <form className="form-row" onSubmit={create} data-testid="token-form">
          <label>
            Name
            <input
              required
              value={name}
              placeholder="e.g. nightly import"
              onChange={(e) => setName(e.target.value)}
              data-testid="token-name"
            />
          </label>
          <button className="btn btn-primary" type="submit" disabled={busy} data-testid="token-create">
            {busy ? 'Creating…' : 'Create token'}
          </button>
        </form>
        {created && (
          <div className="alert alert-warn" role="status" data-testid="token-created">
            <p>
              <strong>Copy the token “{created.name}” now.</strong> It will not be shown again; if you lose it, revoke it
              and create another.
            </p>
            <div className="secret">
              <code data-testid="token-value">{created.token}</code>
              <CopyButton text={created.token} />
            </div>
            <button className="btn btn-sm" onClick={() => setCreated(null)}>
              I have copied it
            </button>
          </div>
        )}
      </section>
      <ErrorBanner message={error} testId="tokens-error" />
      {tokens === null && !error ? (
        <Loading />
      ) : (
        tokens && (
          <div className="table-wrap">
            <table className="table" data-testid="tokens-table">
              <thead>
                <tr>
                  <th>Name</th>
                  <th>Prefix</th>
                  <th>Created</th>
                  <th>Last used</th>
                  <th>Status</th>
                  <th aria-label="Actions" />
                </tr>
              </thead>
              <tbody>
                {tokens.map((t) => (
                  <tr key={t.id} data-testid="token-row" data-name={t.name}>
                    <td>{t.name}</td>
                    <td className="mono">{t.prefix}…</td>
                    <td>{formatDate(t.created_at)}</td>
                    <td>{t.last_used_at ? formatDate(t.last_used_at) : <span className="muted">never</span>}</td>
                    <td>
                      {t.revoked_at ? (
                        <span className="badge outcome-denied">revoked {formatDate(t.revoked_at)}</span>
                      ) : (
                        <span className="badge outcome-ok">active</span>
                      )}
                    </td>
                    <td className="actions">
                      {!t.revoked_at && (
                        <button className="btn btn-sm btn-danger" onClick={() => void revoke(t.id)} data-testid="token-revoke">
                          Revoke
                        </button>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
            {tokens.length === 0 && (
              <p className="muted pad" data-testid="tokens-empty">
                No tokens yet.
              </p>
            )}
          </div>
        )
      )}
    </div>
  );
}
