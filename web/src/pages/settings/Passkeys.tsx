// Settings → Passkeys: the signed-in user's passkeys (they work in every workspace).

import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { endpoints, errorMessage, type Passkey } from '../../api';
import { passkeysSupported, registerPasskey } from '../../webauthn';
import { ErrorBanner, formatDate, Loading, PageHeader } from '../../ui';

export function PasskeysPage() {
  const [passkeys, setPasskeys] = useState<Passkey[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [name, setName] = useState(defaultName());
  const [busy, setBusy] = useState(false);

  const load = useCallback(async () => {
    try {
      setPasskeys(await endpoints.listPasskeys());
    } catch (e) {
      setError(errorMessage(e));
    }
  }, []);

  useEffect(() => {
    void load();
  }, [load]);

  async function add(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    setNotice(null);
    try {
      const pk = await registerPasskey(name.trim() || defaultName());
      setNotice(`Passkey “${pk.name}” added. You can now sign in with it.`);
      await load();
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  }

  async function remove(id: string) {
    setError(null);
    setNotice(null);
    try {
      await endpoints.deletePasskey(id);
      await load();
    } catch (err) {
      setError(errorMessage(err));
    }
  }

  const supported = passkeysSupported();
  return (
    <div className="page">
      <PageHeader
        title="Passkeys"
        description="Passkeys let you sign in with this device's screen lock or a security key instead of a password. They belong to you, in every workspace."
      />
      <section className="card">
        <h2>Add a passkey</h2>
        {!supported && <p className="alert alert-warn">This browser does not support passkeys.</p>}
        <form className="form-row" onSubmit={add} data-testid="passkey-form">
          <label>
            Name
            <input value={name} onChange={(e) => setName(e.target.value)} data-testid="passkey-name" required />
          </label>
          <button className="btn btn-primary" type="submit" disabled={busy || !supported} data-testid="passkey-add">
            {busy ? 'Waiting for your device…' : 'Add passkey'}
          </button>
        </form>
        {notice && (
          <div className="alert alert-ok" role="status" data-testid="passkey-added">
            {notice}
          </div>
        )}
      </section>
      <ErrorBanner message={error} testId="passkeys-error" />
      {passkeys === null && !error ? (
        <Loading />
      ) : (
        passkeys && (
          <div className="table-wrap">
            <table className="table" data-testid="passkeys-table">
              <thead>
                <tr>
                  <th>Name</th>
                  <th>Added</th>
                  <th>Last used</th>
                  <th aria-label="Actions" />
                </tr>
              </thead>
              <tbody>
                {passkeys.map((p) => (
                  <tr key={p.id} data-testid="passkey-row" data-name={p.name}>
                    <td>{p.name}</td>
                    <td>{formatDate(p.created_at)}</td>
                    <td>{p.last_used_at ? formatDate(p.last_used_at) : <span className="muted">never</span>}</td>
                    <td className="actions">
                      <button className="btn btn-sm btn-danger" onClick={() => void remove(p.id)} data-testid="passkey-delete">
                        Delete
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
            {passkeys.length === 0 && (
              <p className="muted pad" data-testid="passkeys-empty">
                No passkeys yet. Add one to sign in without your password.
              </p>
            )}
          </div>
        )
      )}
    </div>
  );
}

function defaultName(): string {
  const ua = navigator.userAgent;
  const browser = /Edg\//.test(ua) ? 'Edge' : /Chrome\//.test(ua) ? 'Chrome' : /Firefox\//.test(ua) ? 'Firefox' : /Safari\//.test(ua) ? 'Safari' : 'Browser';
  const os = /Mac OS X/.test(ua) ? 'macOS' : /Windows/.test(ua) ? 'Windows' : /Android/.test(ua) ? 'Android' : /iPhone|iPad/.test(ua) ? 'iOS' : /Linux/.test(ua) ? 'Linux' : '';
  return os ? `${browser} on ${os}` : browser;
}
