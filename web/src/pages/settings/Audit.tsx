// Settings → Audit log: the workspace's append-only record of who did what, newest first,
// with filters and paging to older entries. Access is decided by the server (owner/admin).

import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { ApiError, endpoints, errorMessage, type AuditEntry } from '../../api';
import { useWorkspace } from '../../shell/Shell';
import { ErrorBanner, formatDate, Loading, PageHeader } from '../../ui';

interface Filters {
  action: string;
  target_type: string;
  outcome: '' | 'ok' | 'denied';
}

const NO_FILTERS: Filters = { action: '', target_type: '', outcome: '' };

type View =
  | { status: 'loading' }
  | { status: 'forbidden' }
  | { status: 'error'; message: string }
  | { status: 'ready'; entries: AuditEntry[]; nextBefore: number | null };

export function AuditPage() {
  const workspace = useWorkspace();
  const [draft, setDraft] = useState<Filters>(NO_FILTERS);
  const [filters, setFilters] = useState<Filters>(NO_FILTERS);
  // Cursors of the pages seen so far: [null] is the newest page.
  const [cursors, setCursors] = useState<(number | null)[]>([null]);
  const [view, setView] = useState<View>({ status: 'loading' });

  const before = cursors[cursors.length - 1];

  const load = useCallback(async () => {
    setView({ status: 'loading' });
    try {
      const page = await endpoints.audit(workspace.workspace_id, { ...filters, before });
      setView({ status: 'ready', entries: page.entries, nextBefore: page.next_before });
    } catch (e) {
      if (e instanceof ApiError && e.status === 403) setView({ status: 'forbidden' });
      else setView({ status: 'error', message: errorMessage(e) });
    }
  }, [workspace.workspace_id, filters, before]);

  useEffect(() => {
    void load();
  }, [load]);

  useEffect(() => {
    setDraft(NO_FILTERS);
    setFilters(NO_FILTERS);
    setCursors([null]);
  }, [workspace.workspace_id]);

  function apply(e: FormEvent) {
    e.preventDefault();
    setFilters({ ...draft, action: draft.action.trim(), target_type: draft.target_type.trim() });
    setCursors([null]);
  }

  if (view.status === 'forbidden') {
    return (
      <div className="page">
        <PageHeader title="Audit log" />
        <div className="empty-state" data-testid="audit-no-access">
          <h2>You don't have access to the audit log</h2>
          <p className="muted">
            Only owners and admins of {workspace.name} can read its audit log. Your role here is {workspace.role}.
          </p>
        </div>
      </div>
    );
  }

  return (
    <div className="page">
      <PageHeader
        title="Audit log"
        description="Every change to roles, members, tokens and settings in this workspace, and every denied attempt. Entries are never edited or deleted."
      />
      <form className="form-row filters" onSubmit={apply} data-testid="audit-filters">
        <label>
          Action
          <input
            value={draft.action}
            placeholder="e.g. member.role_changed"
            onChange={(e) => setDraft({ ...draft, action: e.target.value })}
            data-testid="audit-filter-action"
          />
        </label>
        <label>
          Target type
          <input
            value={draft.target_type}
            placeholder="e.g. user"
            onChange={(e) => setDraft({ ...draft, target_type: e.target.value })}
            data-testid="audit-filter-target"
          />
        </label>
        <label>
          Outcome
          <select
            value={draft.outcome}
            onChange={(e) => setDraft({ ...draft, outcome: e.target.value as Filters['outcome'] })}
            data-testid="audit-filter-outcome"
          >
            <option value="">Any</option>
            <option value="ok">ok</option>
            <option value="denied">denied</option>
          </select>
        </label>
        <button className="btn btn-primary" type="submit" data-testid="audit-apply">
          Filter
        </button>
        <button
          className="btn"
          type="button"
          onClick={() => {
            setDraft(NO_FILTERS);
            setFilters(NO_FILTERS);
            setCursors([null]);
          }}
        >
          Clear
        </button>
      </form>

      {view.status === 'loading' && <Loading />}
      {view.status === 'error' && <ErrorBanner message={view.message} testId="audit-error" />}
      {view.status === 'ready' && (
        <>
          <div className="table-wrap">
            <table className="table" data-testid="audit-table">
              <thead>
                <tr>
                  <th>When</th>
                  <th>Actor</th>
                  <th>Action</th>
                  <th>Target</th>
                  <th>Outcome</th>
                  <th>IP</th>
                </tr>
              </thead>
              <tbody>
                {view.entries.map((e) => (
                  <AuditRow key={e.id} entry={e} />
                ))}
              </tbody>
            </table>
            {view.entries.length === 0 && (
              <p className="muted pad" data-testid="audit-empty">
                No entries{filters.action || filters.target_type || filters.outcome ? ' match these filters' : ' yet'}.
              </p>
            )}
          </div>
          <div className="pager">
            <button className="btn" disabled={cursors.length === 1} onClick={() => setCursors([null])} data-testid="audit-newest">
              Newest
            </button>
            <button
              className="btn"
              disabled={cursors.length === 1}
              onClick={() => setCursors((c) => c.slice(0, -1))}
              data-testid="audit-newer"
            >
              ← Newer
            </button>
            <button
              className="btn"
              disabled={view.nextBefore == null}
              onClick={() => view.nextBefore != null && setCursors((c) => [...c, view.nextBefore])}
              data-testid="audit-older"
            >
              Older →
            </button>
          </div>
        </>
      )}
    </div>
  );
}

function AuditRow({ entry }: { entry: AuditEntry }) {
  const hasChange = entry.before != null || entry.after != null;
  return (
    <tr data-testid="audit-row" data-id={entry.id} data-action={entry.action} data-outcome={entry.outcome}>
      <td title={entry.at}>{formatDate(entry.at)}</td>
      <td>{entry.actor_email ?? <span className="muted">{entry.actor_id ? entry.actor_id.slice(0, 8) : 'system'}</span>}</td>
      <td>
        <code>{entry.action}</code>
        {hasChange && (
          <details className="change">
            <summary>change</summary>
            <div className="change-grid">
              <span className="muted">before</span>
              <pre>{JSON.stringify(entry.before, null, 2)}</pre>
              <span className="muted">after</span>
              <pre>{JSON.stringify(entry.after, null, 2)}</pre>
            </div>
          </details>
        )}
      </td>
      <td>
        {entry.target_type ?? '—'}
        {entry.target_id && <span className="muted mono"> {entry.target_id.slice(0, 8)}</span>}
      </td>
      <td>
        <span className={`badge outcome-${entry.outcome}`}>{entry.outcome}</span>
      </td>
      <td className="mono">{entry.ip ?? '—'}</td>
    </tr>
  );
}
