// Leads: the people campaigns text. Everyone who sees campaigns sees the list (search by phone
// or name, filter by tag and state); owners, admins and managers add one, paste many (CSV with a
// header row; upsert by phone, per-row errors) and delete.

import { useCallback, useState, type FormEvent } from 'react';
import { sender, type BulkResult, type Lead } from '../../senderApi';
import { can } from '../../lib/permissions';
import { parseLeadsCsv } from '../../lib/csv';
import { useWorkspace } from '../../shell/Shell';
import { PagedTable, usePagedList } from '../../lib/pagedList';
import { ConfirmedAction, formatDate, PageHeader, ProblemBanner, problemOf, type Problem } from '../../ui';

export function LeadsPage() {
  const workspace = useWorkspace();
  const wid = workspace.workspace_id;
  const canManage = can(workspace.role, 'ManageCampaigns');
  const [filter, setFilter] = useState({ q: '', tag: '', state: '' });
  const list = usePagedList<Lead>(useCallback((cursor) => sender.leads(wid, { ...filter, cursor, limit: 100 }), [wid, filter]));
  const changed = list.reload;

  return (
    <div className="page" data-testid="leads-page">
      <PageHeader
        title="Leads"
        description={
          canManage
            ? 'The people campaigns text; a campaign’s audience picks them by tag, state, area code and vertical. The same phone is one lead.'
            : 'The people campaigns text. Your role can view them; owners, admins and managers change them.'
        }
      />
      {canManage && (
        <section className="card">
          <h2>Add leads</h2>
          <AddLead workspaceId={wid} onAdded={changed} />
          <BulkAdd workspaceId={wid} onAdded={changed} />
        </section>
      )}
      <section className="card">
        <div className="form-row filters">
          <label>
            Search
            <input value={filter.q} placeholder="phone or name" onChange={(e) => setFilter((f) => ({ ...f, q: e.target.value }))} data-testid="leads-filter-q" />
          </label>
          <label>
            Tag
            <input value={filter.tag} onChange={(e) => setFilter((f) => ({ ...f, tag: e.target.value }))} data-testid="leads-filter-tag" />
          </label>
          <label>
            State
            <input value={filter.state} maxLength={2} onChange={(e) => setFilter((f) => ({ ...f, state: e.target.value.toUpperCase() }))} data-testid="leads-filter-state" />
          </label>
        </div>
        <PagedTable
          list={list}
          testId="leads"
          empty={filter.q || filter.tag || filter.state ? 'No leads match.' : 'No leads yet.'}
          headers={
            <>
              <th>Phone</th>
              <th>Name</th>
              <th>State / zone</th>
              <th>Tags</th>
              <th>Vertical</th>
              <th>Line</th>
              <th>Added</th>
              {canManage && <th aria-label="Actions" />}
            </>
          }
        >
          {(leads) =>
            leads.map((l) => (
              <LeadRow
                key={l.id}
                lead={l}
                workspaceId={wid}
                canManage={canManage}
                onDeleted={() => list.setItems((ls) => ls?.filter((x) => x.id !== l.id) ?? null)}
              />
            ))
          }
        </PagedTable>
      </section>
    </div>
  );
}

function LeadRow({ lead: l, workspaceId, canManage, onDeleted }: { lead: Lead; workspaceId: string; canManage: boolean; onDeleted: () => void }) {
  const [problem, setProblem] = useState<Problem | null>(null);
  return (
    <tr data-testid="lead-row" data-phone={l.phone}>
      <td className="mono">
        {l.phone}
        {problem && <div className="inline-error">{problem.message}</div>}
      </td>
      <td>{[l.first_name, l.last_name].filter(Boolean).join(' ') || <span className="muted">—</span>}</td>
      <td>
        {l.state ?? '—'}
        {l.time_zone && <div className="muted">{l.time_zone}</div>}
      </td>
      <td>{l.tags.join(', ')}</td>
      <td>{l.vertical ?? ''}</td>
      <td>{l.line_type}</td>
      <td>{formatDate(l.created_at)}</td>
      {canManage && (
        <td className="actions">
          <ConfirmedAction
            label="Delete"
            question={`Delete the lead ${l.phone}?`}
            action={() => sender.deleteLead(workspaceId, l.id)}
            onDone={onDeleted}
            onProblem={setProblem}
            testId="lead-delete"
          />
        </td>
      )}
    </tr>
  );
}

function AddLead({ workspaceId, onAdded }: { workspaceId: string; onAdded: () => void }) {
  const empty = { phone: '', first_name: '', last_name: '', state: '', tags: '', time_zone: '' };
  const [f, setF] = useState(empty);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [busy, setBusy] = useState(false);
  const set = (k: keyof typeof empty) => (e: { target: { value: string } }) => setF((x) => ({ ...x, [k]: e.target.value }));

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setProblem(null);
    try {
      await sender.createLead(workspaceId, {
        phone: f.phone,
        first_name: f.first_name || undefined,
        last_name: f.last_name || undefined,
        state: f.state || undefined,
        time_zone: f.time_zone || undefined,
        tags: f.tags
          .split(/[,;]/)
          .map((t) => t.trim())
          .filter(Boolean),
      });
      setF(empty);
      onAdded();
    } catch (err) {
      setProblem(problemOf(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <>
      <form className="form-row" onSubmit={submit} data-testid="lead-form">
        <label>
          Phone
          <input required value={f.phone} placeholder="(305) 555-0100" onChange={set('phone')} aria-invalid={problem?.field === 'phone' || undefined} data-testid="lead-phone" />
        </label>
        <label>
          First name
          <input value={f.first_name} onChange={set('first_name')} data-testid="lead-first-name" />
        </label>
        <label>
          Last name
          <input value={f.last_name} onChange={set('last_name')} data-testid="lead-last-name" />
        </label>
        <label>
          State
          <input value={f.state} maxLength={2} placeholder="FL" onChange={set('state')} data-testid="lead-state" />
        </label>
        <label>
          Time zone
          <input value={f.time_zone} placeholder="from the area code" onChange={set('time_zone')} data-testid="lead-time-zone" />
        </label>
        <label>
          Tags
          <input value={f.tags} placeholder="seller, hot" onChange={set('tags')} data-testid="lead-tags" />
        </label>
        <button className="btn btn-primary" type="submit" disabled={busy} data-testid="lead-submit">
          {busy ? 'Adding…' : 'Add lead'}
        </button>
      </form>
      <ProblemBanner problem={problem} testId="lead-error" />
    </>
  );
}

function BulkAdd({ workspaceId, onAdded }: { workspaceId: string; onAdded: () => void }) {
  const [text, setText] = useState('');
  const [problem, setProblem] = useState<Problem | null>(null);
  const [result, setResult] = useState<(BulkResult & { line_of: number[] }) | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setProblem(null);
    setResult(null);
    const parsed = parseLeadsCsv(text);
    if (parsed.error !== undefined) {
      setProblem({ message: parsed.error });
      return;
    }
    setBusy(true);
    try {
      const r = await sender.bulkLeads(workspaceId, parsed.leads);
      setResult({ ...r, line_of: parsed.line_of });
      if (r.errors.length === 0) setText('');
      onAdded();
    } catch (err) {
      setProblem(problemOf(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <form className="form" onSubmit={submit} data-testid="leads-bulk" style={{ marginTop: 16 }}>
      <label className="wide">
        Paste many (CSV with a header row: phone, first_name, last_name, state, time_zone, tags, vertical, line_type; other columns become attributes, e.g. street)
        <textarea value={text} rows={5} className="mono" placeholder={'phone,first_name,tags,street\n+13055550100,Ana,seller;hot,12 Oak St'} onChange={(e) => setText(e.target.value)} data-testid="leads-bulk-text" />
      </label>
      <div className="section-actions">
        <button className="btn" type="submit" disabled={busy || !text.trim()} data-testid="leads-bulk-submit">
          {busy ? 'Adding…' : 'Add all'}
        </button>
      </div>
      <ProblemBanner problem={problem} testId="leads-bulk-error" />
      {result && (
        <div data-testid="leads-bulk-result">
          <p role="status" data-testid="leads-bulk-summary">
            {result.created} created, {result.updated} updated, {result.errors.length} refused
          </p>
          {result.errors.length > 0 && (
            <ul className="inline-error" data-testid="leads-bulk-errors">
              {result.errors.map((er) => (
                <li key={er.index} data-testid="leads-bulk-row-error" data-line={result.line_of[er.index]}>
                  line {result.line_of[er.index]}: <code>{er.field}</code>: {er.message}
                </li>
              ))}
            </ul>
          )}
        </div>
      )}
    </form>
  );
}
