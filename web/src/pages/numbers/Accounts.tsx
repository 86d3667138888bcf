// Twilio accounts: the table, the add form and inline editing (rename, rotate the token, base
// URL, caps, pause/resume). Shown read-only to roles that cannot change them.

import { useState, type FormEvent } from 'react';
import { endpoints, errorMessage, type AccountStatus, type CarrierAccount } from '../../api';
import { ErrorBanner, Loading } from '../../ui';

interface Props {
  workspaceId: string;
  accounts: CarrierAccount[] | null;
  canManage: boolean;
  onChanged: () => Promise<void>;
}

/** A cap field: blank means no cap. */
function capValue(text: string): number | null {
  const t = text.trim();
  return t === '' ? null : Number(t);
}

export function AccountsSection({ workspaceId, accounts, canManage, onChanged }: Props) {
  return (
    <section className="card" data-testid="accounts-section">
      <h2>Twilio accounts</h2>
      {canManage && <AddAccountForm workspaceId={workspaceId} onAdded={onChanged} />}
      {accounts === null ? (
        <Loading />
      ) : (
        <div className="table-wrap">
          <table className="table" data-testid="accounts-table">
            <thead>
              <tr>
                <th>Name</th>
                <th>Account SID</th>
                <th>Auth token</th>
                <th>Base URL</th>
                <th>Daily cap</th>
                <th>MPS cap</th>
                <th>Status</th>
                <th>Numbers</th>
                {canManage && <th aria-label="Actions" />}
              </tr>
            </thead>
            <tbody>
              {accounts.map((a) => (
                <AccountRow key={a.id} account={a} workspaceId={workspaceId} canManage={canManage} onChanged={onChanged} />
              ))}
            </tbody>
          </table>
          {accounts.length === 0 && (
            <p className="muted pad" data-testid="accounts-empty">
              No Twilio accounts yet.
            </p>
          )}
        </div>
      )}
    </section>
  );
}

function AddAccountForm({ workspaceId, onAdded }: { workspaceId: string; onAdded: () => Promise<void> }) {
  const [name, setName] = useState('');
  const [sid, setSid] = useState('');
  const [token, setToken] = useState('');
  const [baseUrl, setBaseUrl] = useState('');
  const [dailyCap, setDailyCap] = useState('');
  const [mpsCap, setMpsCap] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await endpoints.createAccount(workspaceId, {
        name: name.trim(),
        account_sid: sid.trim(),
        auth_token: token,
        base_url: baseUrl.trim() || undefined,
        daily_cap: capValue(dailyCap),
        mps_cap: capValue(mpsCap),
      });
      setName('');
      setSid('');
      setToken('');
      setBaseUrl('');
      setDailyCap('');
      setMpsCap('');
      await onAdded();
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <>
      <form className="form-row" onSubmit={submit} data-testid="account-form">
        <label>
          Name
          <input required value={name} onChange={(e) => setName(e.target.value)} data-testid="account-name" />
        </label>
        <label>
          Account SID
          <input
            required
            value={sid}
            placeholder="AC…"
            className="mono"
            onChange={(e) => setSid(e.target.value)}
            data-testid="account-sid"
          />
        </label>
        <label>
          Auth token
          <input
            required
            type="password"
            autoComplete="off"
            value={token}
            onChange={(e) => setToken(e.target.value)}
            data-testid="account-token"
          />
        </label>
        <label>
          Base URL
          <input
            value={baseUrl}
            placeholder="https://api.twilio.com"
            onChange={(e) => setBaseUrl(e.target.value)}
            data-testid="account-base-url"
          />
        </label>
        <label>
          Daily cap
          <input type="number" min={1} value={dailyCap} placeholder="none" onChange={(e) => setDailyCap(e.target.value)} data-testid="account-daily-cap" />
        </label>
        <label>
          MPS cap
          <input type="number" min={0} step="any" value={mpsCap} placeholder="none" onChange={(e) => setMpsCap(e.target.value)} data-testid="account-mps-cap" />
        </label>
        <button className="btn btn-primary" type="submit" disabled={busy} data-testid="account-submit">
          {busy ? 'Adding…' : 'Add account'}
        </button>
      </form>
      <ErrorBanner message={error} testId="account-error" />
    </>
  );
}

interface RowProps {
  account: CarrierAccount;
  workspaceId: string;
  canManage: boolean;
  onChanged: () => Promise<void>;
}

function AccountRow({ account: a, workspaceId, canManage, onChanged }: RowProps) {
  const [editing, setEditing] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  async function run(action: () => Promise<unknown>) {
    setBusy(true);
    setError(null);
    try {
      await action();
      setEditing(false);
      await onChanged();
    } catch (e) {
      setError(errorMessage(e));
    } finally {
      setBusy(false);
    }
  }

  const toggled: AccountStatus = a.status === 'paused' ? 'active' : 'paused';
  if (editing) {
    return <EditAccountRow account={a} busy={busy} error={error} onCancel={() => setEditing(false)} onSave={(change) =>
      void run(() => endpoints.updateAccount(workspaceId, a.id, change))} />;
  }
  return (
    <tr data-testid="account-row" data-sid={a.account_sid} data-status={a.status}>
      <td>
        {a.name}
        {error && (
          <div className="inline-error" role="alert" data-testid="account-row-error">
            {error}
          </div>
        )}
      </td>
      <td className="mono">{a.account_sid}</td>
      <td className="mono" data-testid="account-token-hint">
        {a.auth_token_set ? `••••${a.auth_token_last4}` : <span className="muted">not set</span>}
      </td>
      <td className="mono">{a.base_url}</td>
      <td>{a.daily_cap ?? <span className="muted">none</span>}</td>
      <td>{a.mps_cap ?? <span className="muted">none</span>}</td>
      <td>
        <span className={`badge ${a.status === 'active' ? 'outcome-ok' : 'outcome-denied'}`}>{a.status}</span>
      </td>
      <td>{a.number_count}</td>
      {canManage && (
        <td className="actions">
          <button className="btn btn-sm" disabled={busy} onClick={() => setEditing(true)} data-testid="account-edit">
            Edit
          </button>
          <button
            className="btn btn-sm"
            disabled={busy}
            onClick={() => void run(() => endpoints.updateAccount(workspaceId, a.id, { status: toggled }))}
            data-testid="account-toggle"
          >
            {a.status === 'paused' ? 'Resume' : 'Pause'}
          </button>
          <button
            className="btn btn-sm btn-danger"
            disabled={busy}
            onClick={() => void run(() => endpoints.deleteAccount(workspaceId, a.id))}
            data-testid="account-delete"
          >
            Delete
          </button>
        </td>
      )}
    </tr>
  );
}

interface EditProps {
  account: CarrierAccount;
  busy: boolean;
  error: string | null;
  onCancel: () => void;
  onSave: (change: { name: string; auth_token?: string; base_url: string; daily_cap: number | null; mps_cap: number | null }) => void;
}

function EditAccountRow({ account: a, busy, error, onCancel, onSave }: EditProps) {
  const [name, setName] = useState(a.name);
  const [token, setToken] = useState('');
  const [baseUrl, setBaseUrl] = useState(a.base_url);
  const [dailyCap, setDailyCap] = useState(a.daily_cap === null ? '' : String(a.daily_cap));
  const [mpsCap, setMpsCap] = useState(a.mps_cap === null ? '' : String(a.mps_cap));

  function submit(e: FormEvent) {
    e.preventDefault();
    onSave({
      name: name.trim(),
      auth_token: token ? token : undefined,
      base_url: baseUrl.trim(),
      daily_cap: capValue(dailyCap),
      mps_cap: capValue(mpsCap),
    });
  }

  return (
    <tr data-testid="account-edit-row" data-sid={a.account_sid}>
      <td colSpan={9}>
        <form className="form-row" onSubmit={submit}>
          <label>
            Name
            <input required value={name} onChange={(e) => setName(e.target.value)} data-testid="account-edit-name" />
          </label>
          <label>
            New auth token
            <input
              type="password"
              autoComplete="off"
              value={token}
              placeholder="keep the current one"
              onChange={(e) => setToken(e.target.value)}
              data-testid="account-edit-token"
            />
          </label>
          <label>
            Base URL
            <input value={baseUrl} onChange={(e) => setBaseUrl(e.target.value)} data-testid="account-edit-base-url" />
          </label>
          <label>
            Daily cap
            <input type="number" min={1} value={dailyCap} placeholder="none" onChange={(e) => setDailyCap(e.target.value)} />
          </label>
          <label>
            MPS cap
            <input type="number" min={0} step="any" value={mpsCap} placeholder="none" onChange={(e) => setMpsCap(e.target.value)} />
          </label>
          <button className="btn btn-primary btn-sm" type="submit" disabled={busy} data-testid="account-edit-save">
            Save
          </button>
          <button className="btn btn-sm" type="button" onClick={onCancel}>
            Cancel
          </button>
        </form>
        <ErrorBanner message={error} testId="account-edit-error" />
      </td>
    </tr>
  );
}
