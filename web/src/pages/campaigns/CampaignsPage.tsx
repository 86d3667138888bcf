// Campaigns: the list with status (filterable), and a new draft for roles that manage campaigns.
// A campaign's own page (CampaignPage) has its content, dry run, lifecycle and live counters.

import { useCallback, useEffect, useState } from 'react';
import { Link, useNavigate } from 'react-router-dom';
import { sender, type Campaign, type Crusade } from '../../senderApi';
import { can } from '../../lib/permissions';
import { useWorkspace } from '../../shell/Shell';
import { formatDate, Loading, PageHeader, ProblemBanner, problemOf, StatusBadge, type Problem } from '../../ui';
import { CampaignForm } from './CampaignForm';

const STATUSES = ['draft', 'scheduled', 'running', 'paused', 'completed', 'canceled'];

export function CampaignsPage() {
  const workspace = useWorkspace();
  const canManage = can(workspace.role, 'ManageCampaigns');
  const [status, setStatus] = useState('');
  const [campaigns, setCampaigns] = useState<Campaign[] | null>(null);
  const [crusades, setCrusades] = useState<Map<string, Crusade>>(new Map());
  const [problem, setProblem] = useState<Problem | null>(null);

  const load = useCallback(async () => {
    try {
      const [c, k] = await Promise.all([sender.campaigns(workspace.workspace_id, { status: status || undefined }), sender.crusades(workspace.workspace_id)]);
      setCampaigns(c.items);
      setCrusades(new Map(k.items.map((x) => [x.id, x])));
      setProblem(null);
    } catch (e) {
      setProblem(problemOf(e));
    }
  }, [workspace.workspace_id, status]);

  useEffect(() => {
    void load();
  }, [load]);

  return (
    <div className="page" data-testid="campaigns-page">
      <PageHeader
        title="Campaigns"
        description={
          canManage
            ? 'Texts to a saved audience of leads, from a pool of numbers, with follow-ups. Build a draft, check the dry run, then start it.'
            : 'Texts to a saved audience of leads. Your role can follow campaigns; owners, admins and managers change them.'
        }
      >
        {canManage && (
          <Link className="btn btn-primary" to={`/w/${workspace.slug}/campaigns/new`} data-testid="campaign-new">
            New campaign
          </Link>
        )}
      </PageHeader>
      <div className="form-row filters">
        <label>
          Status
          <select value={status} onChange={(e) => setStatus(e.target.value)} data-testid="campaigns-filter-status">
            <option value="">All</option>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </label>
      </div>
      <ProblemBanner problem={problem} testId="campaigns-error" />
      {campaigns === null && !problem ? (
        <Loading />
      ) : campaigns && campaigns.length === 0 ? (
        <div className="empty-state" data-testid="campaigns-empty">
          <h2>{status ? `No ${status} campaigns.` : 'No campaigns yet.'}</h2>
          <p className="muted">
            {canManage ? 'Create a draft: pick an audience of leads, write the messages, then run the dry run before you start it.' : 'Campaigns appear here once a manager creates them.'}
          </p>
        </div>
      ) : (
        campaigns && (
          <div className="table-wrap">
            <table className="table" data-testid="campaigns-table">
              <thead>
                <tr>
                  <th>Name</th>
                  <th>Status</th>
                  <th>Crusade</th>
                  <th>Steps</th>
                  <th>Audience</th>
                  <th>Created</th>
                </tr>
              </thead>
              <tbody>
                {campaigns.map((c) => (
                  <tr key={c.id} data-testid="campaign-row" data-id={c.id} data-name={c.name} data-status={c.status}>
                    <td>
                      <Link to={`/w/${workspace.slug}/campaigns/${c.id}`} data-testid="campaign-link">
                        {c.name}
                      </Link>
                    </td>
                    <td>
                      <StatusBadge status={c.status} />
                    </td>
                    <td>{c.crusade_id ? <Link to={`/w/${workspace.slug}/crusades/${c.crusade_id}`}>{crusades.get(c.crusade_id)?.name ?? 'crusade'}</Link> : <span className="muted">—</span>}</td>
                    <td>{c.steps.length}</td>
                    <td>{audienceText(c)}</td>
                    <td>{formatDate(c.created_at)}</td>
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

export function audienceText(c: Pick<Campaign, 'audience'>): string {
  const a = c.audience;
  const parts = [
    a.tags?.length ? `tags ${a.tags.join(' or ')}` : '',
    a.states?.length ? `in ${a.states.join(', ')}` : '',
    a.area_codes?.length ? `area codes ${a.area_codes.join(', ')}` : '',
    a.vertical ? a.vertical : '',
  ].filter(Boolean);
  return parts.length ? parts.join(' · ') : 'every lead';
}

export function NewCampaignPage() {
  const workspace = useWorkspace();
  const navigate = useNavigate();
  return (
    <div className="page" data-testid="campaign-new-page">
      <PageHeader title="New campaign" description="A draft: nothing is sent until you start it." />
      <section className="card">
        <CampaignForm workspaceId={workspace.workspace_id} onSaved={(c) => navigate(`/w/${workspace.slug}/campaigns/${c.id}`)} onCancel={() => navigate(`/w/${workspace.slug}/campaigns`)} />
      </section>
    </div>
  );
}
