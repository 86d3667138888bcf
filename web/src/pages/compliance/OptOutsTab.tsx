// Opt-outs: search by number prefix, the plain-language revocations awaiting review, recording
// one by hand, importing a legacy suppression list, each phone's consent history, marking a
// revocation reviewed, and lifting an opt-out (owners and admins; kept in the history).

import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { sender, type OptOut, type OptOutDetail } from '../../senderApi';
import { PagedTable, usePagedList } from '../../lib/pagedList';
import { formatDate, ProblemBanner, problemOf, type Problem } from '../../ui';
import { SuppressionImport } from './SuppressionImport';

const SOURCES: Record<string, string> = {
  keyword: 'STOP keyword',
  phrase: 'Plain-language reply',
  carrier: 'Carrier (21610)',
  manual: 'Recorded by hand',
  import: 'Imported list',
};

interface Props {
  workspaceId: string;
  manage: boolean;
  lift: boolean;
}

export function OptOutsTab({ workspaceId, manage, lift }: Props) {
  const [q, setQ] = useState('');
  const [needsReview, setNeedsReview] = useState(false);
  const list = usePagedList<OptOut>(
    useCallback((cursor) => sender.optOuts(workspaceId, { q, needs_review: needsReview || undefined, cursor }), [workspaceId, q, needsReview]),
  );
  const [pending, setPending] = useState<number | null>(null);
  const [version, setVersion] = useState(0);

  useEffect(() => {
    sender
      .optOuts(workspaceId, { needs_review: true })
      .then((p) => setPending(p.next_cursor ? -1 : p.items.length))
      .catch(() => setPending(null));
  }, [workspaceId, version]);

  const changed = () => {
    setVersion((v) => v + 1);
    list.reload();
  };

  return (
    <div data-testid="opt-outs-tab">
      {pending !== null && pending !== 0 && (
        <div className="alert alert-warn" data-testid="review-banner">
          {pending === -1 ? 'Many' : pending} plain-language revocation{pending === 1 ? '' : 's'} (“please stop texting me”…) need{pending === 1 ? 's' : ''} a
          person’s review. The number is already opted out; review confirms it was meant.{' '}
          {!needsReview && (
            <button className="link-btn" onClick={() => setNeedsReview(true)} data-testid="review-show">
              Show them
            </button>
          )}
        </div>
      )}
      {manage && (
        <section className="card">
          <h2>Record opt-outs</h2>
          <AddOptOut workspaceId={workspaceId} onAdded={changed} />
          <SuppressionImport kind="opt-outs" columns="Columns: phone, optionally note. Every phone becomes an opt-out (source: import)." run={(csv) => sender.importOptOuts(workspaceId, csv)} onImported={changed} />
        </section>
      )}
      <section className="card">
        <div className="form-row filters">
          <label>
            Number starts with
            <input value={q} placeholder="1305 or +1305" onChange={(e) => setQ(e.target.value.trim())} data-testid="opt-outs-filter-q" />
          </label>
          <label className="check">
            <input type="checkbox" checked={needsReview} onChange={(e) => setNeedsReview(e.target.checked)} data-testid="opt-outs-filter-review" />
            Needs review only
          </label>
        </div>
        <PagedTable
          list={list}
          testId="opt-outs"
          empty={needsReview ? 'Nothing awaits review.' : q ? 'No opt-out matches.' : 'No opt-outs yet.'}
          headers={
            <>
              <th>Phone</th>
              <th>Since</th>
              <th>Source</th>
              <th>Via</th>
              <th>Note</th>
              <th aria-label="Actions" />
            </>
          }
        >
          {(items) =>
            items.map((o) => <OptOutRow key={o.phone} optOut={o} workspaceId={workspaceId} manage={manage} lift={lift} onChanged={changed} />)
          }
        </PagedTable>
      </section>
    </div>
  );
}

function OptOutRow({ optOut: o, workspaceId, manage, lift, onChanged }: { optOut: OptOut; workspaceId: string; manage: boolean; lift: boolean; onChanged: () => void }) {
  const [problem, setProblem] = useState<Problem | null>(null);
  const [busy, setBusy] = useState(false);
  const [detail, setDetail] = useState<OptOutDetail | null>(null);

  async function run(f: () => Promise<unknown>) {
    setBusy(true);
    setProblem(null);
    try {
      await f();
      onChanged();
    } catch (e) {
      setProblem(problemOf(e));
    } finally {
      setBusy(false);
    }
  }

  return (
    <>
      <tr data-testid="opt-out-row" data-phone={o.phone} data-source={o.source} data-needs-review={o.needs_review ? 'true' : 'false'}>
        <td className="mono">
          {o.phone}
          {problem && (
            <div className="inline-error" role="alert" data-testid="opt-out-row-error">
              {problem.message}
            </div>
          )}
        </td>
        <td>{formatDate(o.opted_out_at)}</td>
        <td>
          {SOURCES[o.source] ?? o.source}
          {o.needs_review && (
            <div>
              <span className="badge status-paused" data-testid="needs-review">
                needs review
              </span>
            </div>
          )}
        </td>
        <td className="mono">{o.via_number ?? '—'}</td>
        <td>{o.note ?? ''}</td>
        <td className="actions">
          <button
            className="btn btn-sm"
            disabled={busy}
            onClick={() => (detail ? setDetail(null) : void sender.optOut(workspaceId, o.phone).then(setDetail, (e) => setProblem(problemOf(e))))}
            data-testid="opt-out-history"
          >
            {detail ? 'Hide history' : 'History'}
          </button>
          {manage && o.needs_review && (
            <button
              className="btn btn-sm"
              disabled={busy}
              onClick={() => {
                const note = window.prompt('Note for the record (optional): what did they write, what did you decide?', o.note ?? '');
                if (note === null) return;
                void run(() => sender.reviewOptOut(workspaceId, o.phone, note.trim() || undefined));
              }}
              data-testid="opt-out-review"
            >
              Mark reviewed
            </button>
          )}
          {lift && (
            <button
              className="btn btn-sm btn-danger"
              disabled={busy}
              onClick={() => {
                if (!window.confirm(`Opt ${o.phone} back in? Campaigns may text this number again. Do this only with the person’s consent.`)) return;
                void run(() => sender.removeOptOut(workspaceId, o.phone));
              }}
              data-testid="opt-out-remove"
            >
              Opt back in
            </button>
          )}
        </td>
      </tr>
      {detail && (
        <tr data-testid="opt-out-detail">
          <td colSpan={6}>
            <ul>
              {detail.history.map((h) => (
                <li key={h.id} data-testid="consent-event" data-kind={h.kind}>
                  {formatDate(h.at)} — {h.kind === 'opt_out' ? 'opted out' : 'opted back in'} ({SOURCES[h.source] ?? h.source})
                  {h.via_number ? ` via ${h.via_number}` : ''}
                  {h.message_sid ? ` · message ${h.message_sid}` : ''}
                </li>
              ))}
            </ul>
          </td>
        </tr>
      )}
    </>
  );
}

function AddOptOut({ workspaceId, onAdded }: { workspaceId: string; onAdded: () => void }) {
  const [phone, setPhone] = useState('');
  const [note, setNote] = useState('');
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<Problem | null>(null);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setProblem(null);
    try {
      await sender.addOptOut(workspaceId, phone, note.trim() || undefined);
      setPhone('');
      setNote('');
      onAdded();
    } catch (err) {
      setProblem(problemOf(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <>
      <form className="form-row" onSubmit={submit} data-testid="opt-out-form">
        <label>
          Phone
          <input required value={phone} placeholder="(305) 555-0100" onChange={(e) => setPhone(e.target.value)} aria-invalid={problem?.field === 'phone' || undefined} data-testid="opt-out-phone" />
        </label>
        <label>
          Note
          <input value={note} placeholder="e.g. asked by phone" onChange={(e) => setNote(e.target.value)} data-testid="opt-out-note" />
        </label>
        <button className="btn btn-primary" type="submit" disabled={busy} data-testid="opt-out-submit">
          {busy ? 'Recording…' : 'Record opt-out'}
        </button>
      </form>
      <ProblemBanner problem={problem} testId="opt-out-error" />
    </>
  );
}
