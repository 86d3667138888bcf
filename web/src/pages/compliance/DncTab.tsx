// The internal DNC list: single phones and whole ranges (same country and length), added by
// hand or imported; removing an entry is for owners and admins.

import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { sender, type DncEntry } from '../../senderApi';
import { formatCount, formatDate, Loading, ProblemBanner, problemOf, type Problem } from '../../ui';
import { SuppressionImport } from './SuppressionImport';

export function DncTab({ workspaceId, manage, lift }: { workspaceId: string; manage: boolean; lift: boolean }) {
  const [items, setItems] = useState<DncEntry[] | null>(null);
  const [next, setNext] = useState<string | null>(null);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [version, setVersion] = useState(0);

  const load = useCallback(
    async (cursor: string | null) => {
      try {
        const p = await sender.dnc(workspaceId, cursor);
        setItems((old) => (cursor && old ? [...old, ...p.items] : p.items));
        setNext(p.next_cursor);
        setProblem(null);
      } catch (e) {
        setProblem(problemOf(e));
      }
    },
    [workspaceId],
  );

  useEffect(() => {
    void load(null);
  }, [load, version]);
  const changed = () => setVersion((v) => v + 1);

  return (
    <div data-testid="dnc-tab">
      {manage && (
        <section className="card">
          <h2>Add to the DNC list</h2>
          <AddDnc workspaceId={workspaceId} onAdded={changed} />
          <SuppressionImport
            kind="dnc"
            columns="Columns: phone, or from and to for a range; optionally reason."
            run={(csv) => sender.importDnc(workspaceId, csv)}
            onImported={changed}
          />
        </section>
      )}
      <section className="card">
        <ProblemBanner problem={problem} testId="dnc-error" />
        {items === null && !problem ? (
          <Loading />
        ) : (
          items && (
            <div className="table-wrap">
              <table className="table" data-testid="dnc-table">
                <thead>
                  <tr>
                    <th>Phone or range</th>
                    <th>Numbers</th>
                    <th>Reason</th>
                    <th>Added</th>
                    {lift && <th aria-label="Actions" />}
                  </tr>
                </thead>
                <tbody>
                  {items.map((d) => (
                    <DncRow key={d.id} entry={d} workspaceId={workspaceId} lift={lift} onChanged={changed} />
                  ))}
                </tbody>
              </table>
              {items.length === 0 && (
                <p className="muted pad" data-testid="dnc-empty">
                  The DNC list is empty.
                </p>
              )}
            </div>
          )
        )}
        {next && (
          <div className="pager">
            <button className="btn btn-sm" onClick={() => void load(next)} data-testid="dnc-more">
              Show more
            </button>
          </div>
        )}
      </section>
    </div>
  );
}

function DncRow({ entry: d, workspaceId, lift, onChanged }: { entry: DncEntry; workspaceId: string; lift: boolean; onChanged: () => void }) {
  const [problem, setProblem] = useState<Problem | null>(null);
  return (
    <tr data-testid="dnc-row" data-id={d.id} data-from={d.from} data-to={d.to}>
      <td className="mono">
        {d.phone ?? `${d.from} – ${d.to}`}
        {problem && <div className="inline-error">{problem.message}</div>}
      </td>
      <td>{formatCount(d.count)}</td>
      <td>{d.reason}</td>
      <td>{formatDate(d.created_at)}</td>
      {lift && (
        <td className="actions">
          <button
            className="btn btn-sm btn-danger"
            onClick={async () => {
              if (!window.confirm(`Remove ${d.phone ?? `${d.from} – ${d.to}`} from the DNC list?`)) return;
              try {
                await sender.deleteDnc(workspaceId, d.id);
                onChanged();
              } catch (e) {
                setProblem(problemOf(e));
              }
            }}
            data-testid="dnc-remove"
          >
            Remove
          </button>
        </td>
      )}
    </tr>
  );
}

function AddDnc({ workspaceId, onAdded }: { workspaceId: string; onAdded: () => void }) {
  const [range, setRange] = useState(false);
  const [phone, setPhone] = useState('');
  const [from, setFrom] = useState('');
  const [to, setTo] = useState('');
  const [reason, setReason] = useState('');
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<Problem | null>(null);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setProblem(null);
    try {
      await sender.addDnc(workspaceId, range ? { from, to, reason: reason || undefined } : { phone, reason: reason || undefined });
      setPhone('');
      setFrom('');
      setTo('');
      setReason('');
      onAdded();
    } catch (err) {
      setProblem(problemOf(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <>
      <form className="form-row" onSubmit={submit} data-testid="dnc-form">
        <label className="check">
          <input type="checkbox" checked={range} onChange={(e) => setRange(e.target.checked)} data-testid="dnc-range" />
          A range
        </label>
        {range ? (
          <>
            <label>
              From
              <input required value={from} placeholder="+13055550000" onChange={(e) => setFrom(e.target.value)} aria-invalid={problem?.field === 'from' || undefined} data-testid="dnc-from" />
            </label>
            <label>
              To
              <input required value={to} placeholder="+13055550999" onChange={(e) => setTo(e.target.value)} aria-invalid={problem?.field === 'to' || undefined} data-testid="dnc-to" />
            </label>
          </>
        ) : (
          <label>
            Phone
            <input required value={phone} placeholder="(305) 555-0100" onChange={(e) => setPhone(e.target.value)} aria-invalid={problem?.field === 'phone' || undefined} data-testid="dnc-phone" />
          </label>
        )}
        <label>
          Reason
          <input value={reason} onChange={(e) => setReason(e.target.value)} data-testid="dnc-reason" />
        </label>
        <button className="btn btn-primary" type="submit" disabled={busy} data-testid="dnc-submit">
          {busy ? 'Adding…' : 'Add'}
        </button>
      </form>
      <ProblemBanner problem={problem} testId="dnc-add-error" />
    </>
  );
}
