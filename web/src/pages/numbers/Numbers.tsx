// Phone numbers: filters, the table (with today's effective daily cap from the warm-up), the
// add form and the CSV import. Read-only for roles that cannot change them.

import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { endpoints, errorMessage, type CarrierAccount, type NumberFilter, type PhoneNumber } from '../../api';
import { ErrorBanner, Loading } from '../../ui';
import { ImportNumbers } from './Import';

interface Props {
  workspaceId: string;
  accounts: CarrierAccount[];
  canManage: boolean;
  version: number;
  onChanged: () => void;
}

export function NumbersSection({ workspaceId, accounts, canManage, version, onChanged }: Props) {
  const [filter, setFilter] = useState<NumberFilter>({});
  const [numbers, setNumbers] = useState<PhoneNumber[] | null>(null);
  const [nextAfter, setNextAfter] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);

  const load = useCallback(
    async (after: string | null) => {
      try {
        const page = await endpoints.numbers(workspaceId, { ...filter, after });
        setNumbers((list) => (after && list ? [...list, ...page.numbers] : page.numbers));
        setNextAfter(page.next_after);
        setError(null);
      } catch (e) {
        setError(errorMessage(e));
      }
    },
    [workspaceId, filter],
  );

  useEffect(() => {
    void load(null);
  }, [load, version]);

  const set = (key: keyof NumberFilter) => (value: string) => setFilter((f) => ({ ...f, [key]: value || undefined }));

  return (
    <section className="card" data-testid="numbers-section">
      <h2>Phone numbers</h2>
      {canManage && (
        <>
          <AddNumberForm workspaceId={workspaceId} accounts={accounts} onAdded={onChanged} />
          <ImportNumbers workspaceId={workspaceId} onImported={onChanged} />
        </>
      )}
      <div className="form-row filters" data-testid="numbers-filters">
        <label>
          Account
          <select value={filter.account_id ?? ''} onChange={(e) => set('account_id')(e.target.value)} data-testid="numbers-filter-account">
            <option value="">All</option>
            {accounts.map((a) => (
              <option key={a.id} value={a.id}>
                {a.name}
              </option>
            ))}
          </select>
        </label>
        <label>
          Area code
          <input value={filter.area_code ?? ''} placeholder="e.g. 415" maxLength={3} onChange={(e) => set('area_code')(e.target.value)} data-testid="numbers-filter-area" />
        </label>
        <label>
          State
          <input value={filter.state ?? ''} placeholder="e.g. CA" maxLength={2} onChange={(e) => set('state')(e.target.value)} data-testid="numbers-filter-state" />
        </label>
        <label>
          Status
          <select value={filter.status ?? ''} onChange={(e) => set('status')(e.target.value)} data-testid="numbers-filter-status">
            <option value="">All</option>
            <option value="active">active</option>
            <option value="paused">paused</option>
          </select>
        </label>
      </div>
      <ErrorBanner message={error} testId="numbers-error" />
      {numbers === null && !error ? (
        <Loading />
      ) : (
        numbers && (
          <div className="table-wrap">
            <table className="table" data-testid="numbers-table">
              <thead>
                <tr>
                  <th>Number</th>
                  <th>Account</th>
                  <th>Area / state</th>
                  <th>SMS / MMS</th>
                  <th>10DLC campaign</th>
                  <th>MPS</th>
                  <th>Daily cap (today)</th>
                  <th>Health</th>
                  <th>Status</th>
                  {canManage && <th aria-label="Actions" />}
                </tr>
              </thead>
              <tbody>
                {numbers.map((n) => (
                  <NumberRow key={n.id} number={n} workspaceId={workspaceId} canManage={canManage} onChanged={onChanged} />
                ))}
              </tbody>
            </table>
            {numbers.length === 0 && (
              <p className="muted pad" data-testid="numbers-empty">
                No numbers match.
              </p>
            )}
          </div>
        )
      )}
      {nextAfter && (
        <div className="pager">
          <button className="btn btn-sm" onClick={() => void load(nextAfter)} data-testid="numbers-more">
            Show more
          </button>
        </div>
      )}
    </section>
  );
}

function NumberRow({ number: n, workspaceId, canManage, onChanged }: { number: PhoneNumber; workspaceId: string; canManage: boolean; onChanged: () => void }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  async function run(action: () => Promise<unknown>) {
    setBusy(true);
    setError(null);
    try {
      await action();
      onChanged();
    } catch (e) {
      setError(errorMessage(e));
    } finally {
      setBusy(false);
    }
  }

  const cap = n.daily_cap ?? '—';
  const today = n.effective_daily_cap ?? 'none';
  return (
    <tr data-testid="number-row" data-e164={n.e164} data-status={n.status}>
      <td className="mono">
        {n.e164}
        {error && (
          <div className="inline-error" role="alert" data-testid="number-row-error">
            {error}
          </div>
        )}
      </td>
      <td className="mono">{n.account_sid}</td>
      <td>
        {n.area_code ?? '—'} / {n.state ?? '—'}
      </td>
      <td>
        {n.sms ? 'SMS' : '—'} / {n.mms ? 'MMS' : '—'}
      </td>
      <td>{n.campaign_10dlc ?? <span className="muted">none</span>}</td>
      <td>{n.mps}</td>
      <td title={n.warmup ? `Warming up since ${n.warmup_started_on}` : undefined}>
        {cap} ({today}){n.warmup && <span className="muted"> warm-up</span>}
      </td>
      <td>
        <span className={`badge ${n.health === 'good' ? 'outcome-ok' : 'outcome-denied'}`}>{n.health}</span>
      </td>
      <td>{n.status}</td>
      {canManage && (
        <td className="actions">
          <button
            className="btn btn-sm"
            disabled={busy}
            onClick={() => void run(() => endpoints.updateNumber(workspaceId, n.id, { status: n.status === 'paused' ? 'active' : 'paused' }))}
            data-testid="number-toggle"
          >
            {n.status === 'paused' ? 'Resume' : 'Pause'}
          </button>
          <button className="btn btn-sm btn-danger" disabled={busy} onClick={() => void run(() => endpoints.deleteNumber(workspaceId, n.id))} data-testid="number-delete">
            Delete
          </button>
        </td>
      )}
    </tr>
  );
}

function AddNumberForm({ workspaceId, accounts, onAdded }: { workspaceId: string; accounts: CarrierAccount[]; onAdded: () => void }) {
  const [e164, setE164] = useState('');
  const [accountId, setAccountId] = useState('');
  const [sms, setSms] = useState(true);
  const [mms, setMms] = useState(false);
  const [campaign, setCampaign] = useState('');
  const [mps, setMps] = useState('1');
  const [dailyCap, setDailyCap] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const chosen = accountId || accounts[0]?.id || '';

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await endpoints.createNumber(workspaceId, {
        e164: e164.trim(),
        account_id: chosen,
        sms,
        mms,
        campaign_10dlc: campaign.trim() || undefined,
        mps: mps.trim() === '' ? undefined : Number(mps),
        daily_cap: dailyCap.trim() === '' ? null : Number(dailyCap),
      });
      setE164('');
      setCampaign('');
      setDailyCap('');
      onAdded();
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <>
      <form className="form-row" onSubmit={submit} data-testid="number-form">
        <label>
          Number
          <input required value={e164} placeholder="+14155550100" onChange={(e) => setE164(e.target.value)} data-testid="number-e164" />
        </label>
        <label>
          Account
          <select required value={chosen} onChange={(e) => setAccountId(e.target.value)} data-testid="number-account">
            {accounts.length === 0 && <option value="">Add an account first</option>}
            {accounts.map((a) => (
              <option key={a.id} value={a.id}>
                {a.name}
              </option>
            ))}
          </select>
        </label>
        <label className="check">
          <input type="checkbox" checked={sms} onChange={(e) => setSms(e.target.checked)} data-testid="number-sms" /> SMS
        </label>
        <label className="check">
          <input type="checkbox" checked={mms} onChange={(e) => setMms(e.target.checked)} data-testid="number-mms" /> MMS
        </label>
        <label>
          10DLC campaign
          <input value={campaign} placeholder="optional" onChange={(e) => setCampaign(e.target.value)} data-testid="number-campaign" />
        </label>
        <label>
          MPS
          <input type="number" min={0} step="any" value={mps} onChange={(e) => setMps(e.target.value)} data-testid="number-mps" />
        </label>
        <label>
          Daily cap
          <input type="number" min={1} value={dailyCap} placeholder="none" onChange={(e) => setDailyCap(e.target.value)} data-testid="number-daily-cap" />
        </label>
        <button className="btn btn-primary" type="submit" disabled={busy || !chosen} data-testid="number-submit">
          {busy ? 'Adding…' : 'Add number'}
        </button>
      </form>
      <ErrorBanner message={error} testId="number-error" />
    </>
  );
}
