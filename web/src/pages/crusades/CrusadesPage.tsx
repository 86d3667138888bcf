// Crusades: groups of campaigns sharing a schedule. The list, and a new crusade for roles that
// manage campaigns; a crusade's own page (CrusadePage) runs it and shows its live counters.

import { useCallback, useEffect, useState } from 'react';
import { Link, useNavigate } from 'react-router-dom';
import { sender, type Crusade } from '../../senderApi';
import { can } from '../../lib/permissions';
import { useWorkspace } from '../../shell/Shell';
import { Loading, PageHeader, ProblemBanner, problemOf, StatusBadge, type Problem } from '../../ui';
import { CrusadeForm } from './CrusadeForm';

export function scheduleText(c: Crusade): string {
  const days = c.days.length === 7 ? 'every day' : c.days.join(', ');
  const dates = c.start_date || c.end_date ? ` · ${c.start_date ?? '…'} → ${c.end_date ?? '…'}` : '';
  return `${days}, ${c.start_time}–${c.end_time}${dates}`;
}

export function CrusadesPage() {
  const workspace = useWorkspace();
  const navigate = useNavigate();
  const canManage = can(workspace.role, 'ManageCampaigns');
  const [crusades, setCrusades] = useState<Crusade[] | null>(null);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [creating, setCreating] = useState(false);

  const load = useCallback(async () => {
    try {
      setCrusades((await sender.crusades(workspace.workspace_id)).items);
      setProblem(null);
    } catch (e) {
      setProblem(problemOf(e));
    }
  }, [workspace.workspace_id]);

  useEffect(() => {
    void load();
  }, [load]);

  return (
    <div className="page" data-testid="crusades-page">
      <PageHeader
        title="Crusades"
        description="A crusade groups campaigns under one schedule: allowed days and hours in the recipient’s time zone, dates, a throttle and jitter. Starting or pausing a crusade does so for all its campaigns."
      >
        {canManage && !creating && (
          <button className="btn btn-primary" onClick={() => setCreating(true)} data-testid="crusade-new">
            New crusade
          </button>
        )}
      </PageHeader>
      {creating && (
        <section className="card">
          <h2>New crusade</h2>
          <CrusadeForm workspaceId={workspace.workspace_id} onSaved={(c) => navigate(`/w/${workspace.slug}/crusades/${c.id}`)} onCancel={() => setCreating(false)} />
        </section>
      )}
      <ProblemBanner problem={problem} testId="crusades-error" />
      {crusades === null && !problem ? (
        <Loading />
      ) : crusades && crusades.length === 0 ? (
        <div className="empty-state" data-testid="crusades-empty">
          <h2>No crusades yet.</h2>
          <p className="muted">Create one, then add draft campaigns to it from the crusade’s page or the campaign’s editor.</p>
        </div>
      ) : (
        crusades && (
          <div className="table-wrap">
            <table className="table" data-testid="crusades-table">
              <thead>
                <tr>
                  <th>Name</th>
                  <th>Status</th>
                  <th>Schedule</th>
                  <th>Throttle</th>
                  <th>Jitter</th>
                </tr>
              </thead>
              <tbody>
                {crusades.map((c) => (
                  <tr key={c.id} data-testid="crusade-row" data-id={c.id} data-name={c.name} data-status={c.status}>
                    <td>
                      <Link to={`/w/${workspace.slug}/crusades/${c.id}`} data-testid="crusade-link">
                        {c.name}
                      </Link>
                    </td>
                    <td>
                      <StatusBadge status={c.status} />
                    </td>
                    <td>{scheduleText(c)}</td>
                    <td>{c.throttle_per_minute ? `${c.throttle_per_minute}/min` : <span className="muted">none</span>}</td>
                    <td>{c.jitter_seconds} s</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )
      )}
    </div>
  );
}
