// The internal DNC list: single phones and whole ranges (same country and length), added by
// hand or imported; removing an entry is for owners and admins.

import { useCallback, useState, type FormEvent } from 'react';
import { sender, type DncEntry } from '../../senderApi';
import { PagedTable, usePagedList } from '../../lib/pagedList';
import { ConfirmedAction, formatCount, formatDate, ProblemBanner, problemOf, type Problem } from '../../ui';
import { SuppressionImport } from './SuppressionImport';

export function DncTab({ workspaceId, manage, lift }: { workspaceId: string; manage: boolean; lift: boolean }) {
  const list = usePagedList<DncEntry>(useCallback((cursor) => sender.dnc(workspaceId, cursor), [workspaceId]));
  const changed = list.reload;

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
        <PagedTable
          list={list}
          testId="dnc"
          empty="The DNC list is empty."
          headers={
            <>
              <th>Phone or range</th>
              <th>Numbers</th>
              <th>Reason</th>
              <th>Added</th>
              {lift && <th aria-label="Actions" />}
            </>
          }
        >
          {(items) => items.map((d) => <DncRow key={d.id} entry={d} workspaceId={workspaceId} lift={lift} onChanged={changed} />)}
        </PagedTable>
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
          <ConfirmedAction
            label="Remove"
            question={`Remove ${d.phone ?? `${d.from} – ${d.to}`} from the DNC list?`}
            action={() => sender.deleteDnc(workspaceId, d.id)}
            onDone={onChanged}
            onProblem={setProblem}
            testId="dnc-remove"
          />
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
