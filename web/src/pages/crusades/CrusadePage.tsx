// One crusade: lifecycle acting on all its campaigns, live counters from `crusade:<id>` (the
// sum and each campaign's status and counts), its schedule (editable in draft, scheduled and
// paused), and its campaigns — draft campaigns join or leave here.

import { useCallback, useEffect, useState } from 'react';
import { Link, useNavigate, useParams } from 'react-router-dom';
import { sender, deletable, editable, type Campaign, type CampaignStatus, type Crusade } from '../../senderApi';
import { can } from '../../lib/permissions';
import { countersOf, liveUpdateOf, type Counters } from '../../lib/counters';
import { useTopicEvents } from '../../realtime/live';
import { useWorkspace } from '../../shell/Shell';
import { EditableHeading, formatCount, Loading, PageHeader, ProblemBanner, problemOf, StatusBadge, type Problem } from '../../ui';
import { LiveCounters } from '../campaigns/LiveCounters';
import { Lifecycle } from '../campaigns/Lifecycle';
import { CrusadeForm } from './CrusadeForm';
import { scheduleText } from './CrusadesPage';

type PerCampaign = Record<string, { status?: string; counters: Counters }>;

export function CrusadePage() {
  const workspace = useWorkspace();
  const wid = workspace.workspace_id;
  const { id = '' } = useParams();
  const navigate = useNavigate();
  const canManage = can(workspace.role, 'ManageCampaigns');
  const [crusade, setCrusade] = useState<Crusade | null>(null);
  const [counters, setCounters] = useState<Counters>(countersOf(null));
  const [perCampaign, setPerCampaign] = useState<PerCampaign>({});
  const [drafts, setDrafts] = useState<Campaign[]>([]);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [editing, setEditing] = useState(false);
  const [adding, setAdding] = useState('');

  const load = useCallback(async () => {
    try {
      const c = await sender.crusade(wid, id);
      setCrusade(c);
      setCounters(countersOf(c.counters));
      setPerCampaign({});
      const all = await sender.campaigns(wid, { status: 'draft' });
      setDrafts(all.items.filter((x) => x.crusade_id === null));
      setProblem(null);
    } catch (e) {
      setProblem(problemOf(e));
    }
  }, [wid, id]);

  useEffect(() => {
    void load();
  }, [load]);

  const live = useTopicEvents(wid, `crusade:${id}`, {
    event: (e) => {
      const u = liveUpdateOf(e.kind, e.data);
      if (!u) return;
      if (u.counters) setCounters(u.counters);
      if (u.campaigns) setPerCampaign(u.campaigns);
      if (u.status) setCrusade((c) => (c && c.status !== u.status ? { ...c, status: u.status as CampaignStatus } : c));
      if (e.kind === 'status') void load();
    },
    resync: () => void load(),
  });

  if (!crusade) {
    return (
      <div className="page" data-testid="crusade-page">
        <ProblemBanner problem={problem} testId="crusade-load-error" />
        {!problem && <Loading />}
      </div>
    );
  }

  async function act(f: () => Promise<unknown>) {
    setProblem(null);
    try {
      await f();
      await load();
    } catch (e) {
      setProblem(problemOf(e));
    }
  }

  async function remove() {
    if (!crusade || !window.confirm(`Delete the crusade “${crusade.name}”? Its campaigns stay, without a crusade.`)) return;
    try {
      await sender.deleteCrusade(wid, crusade.id);
      navigate(`/w/${workspace.slug}/crusades`);
    } catch (e) {
      setProblem(problemOf(e));
    }
  }

  const campaigns = crusade.campaigns ?? [];
  return (
    <div className="page" data-testid="crusade-page" data-id={crusade.id} data-status={crusade.status}>
      <p className="hint">
        <Link to={`/w/${workspace.slug}/crusades`}>← Crusades</Link>
      </p>
      <PageHeader title={crusade.name} description={scheduleText(crusade)}>
        <StatusBadge status={crusade.status} testId="crusade-status" />
      </PageHeader>
      <ProblemBanner problem={problem} testId="crusade-error" />

      <section className="card" data-testid="crusade-progress">
        <div className="page-header">
          <h2>Progress of all its campaigns</h2>
          {canManage && (
            <Lifecycle
              status={crusade.status}
              what="crusade (and every campaign in it)"
              onMove={async (action) => {
                await sender.moveCrusade(wid, crusade.id, action);
                await load();
              }}
            />
          )}
        </div>
        <LiveCounters counters={counters} lastEventAt={live.at} running={crusade.status === 'running'} />
      </section>

      <section className="card" data-testid="crusade-campaigns">
        <h2>Campaigns</h2>
        {campaigns.length === 0 ? (
          <p className="muted" data-testid="crusade-campaigns-empty">
            No campaigns yet. {canManage ? 'Add a draft campaign below.' : ''}
          </p>
        ) : (
          <div className="table-wrap">
            <table className="table">
              <thead>
                <tr>
                  <th>Campaign</th>
                  <th>Status</th>
                  <th>Sent</th>
                  <th>Queued</th>
                  <th>Skipped</th>
                  {canManage && <th aria-label="Actions" />}
                </tr>
              </thead>
              <tbody>
                {campaigns.map((c) => {
                  const liveOne = perCampaign[c.id];
                  const status = (liveOne?.status ?? c.status) as CampaignStatus;
                  const cc = liveOne?.counters ?? countersOf(c.counters);
                  return (
                    <tr key={c.id} data-testid="crusade-campaign" data-id={c.id} data-status={status}>
                      <td>
                        <Link to={`/w/${workspace.slug}/campaigns/${c.id}`}>{c.name}</Link>
                      </td>
                      <td>
                        <StatusBadge status={status} />
                      </td>
                      <td>{formatCount(cc.sent)}</td>
                      <td>{formatCount(cc.queued)}</td>
                      <td>{formatCount(Object.values(cc.skipped).reduce((a, b) => a + b, 0))}</td>
                      {canManage && (
                        <td className="actions">
                          {status === 'draft' && (
                            <button className="btn btn-sm" onClick={() => void act(() => sender.updateCampaign(wid, c.id, { crusade_id: null }))} data-testid="crusade-campaign-remove">
                              Remove
                            </button>
                          )}
                        </td>
                      )}
                    </tr>
                  );
                })}
              </tbody>
            </table>
          </div>
        )}
        {canManage && (
          <div className="form-row" style={{ marginTop: 14 }}>
            <label>
              Add a draft campaign
              <select value={adding} onChange={(e) => setAdding(e.target.value)} data-testid="crusade-add-select">
                <option value="">{drafts.length ? 'Choose…' : 'No draft campaign without a crusade'}</option>
                {drafts.map((d) => (
                  <option key={d.id} value={d.id}>
                    {d.name}
                  </option>
                ))}
              </select>
            </label>
            <button
              className="btn"
              disabled={!adding}
              onClick={() =>
                void act(async () => {
                  await sender.updateCampaign(wid, adding, { crusade_id: crusade.id });
                  setAdding('');
                })
              }
              data-testid="crusade-add"
            >
              Add
            </button>
          </div>
        )}
      </section>

      <section className="card" data-testid="crusade-schedule">
        <EditableHeading
          title="Schedule"
          testId="crusade"
          onEdit={canManage && editable(crusade.status) && !editing ? () => setEditing(true) : undefined}
          onDelete={canManage && deletable(crusade.status) ? () => void remove() : undefined}
        />
        {editing ? (
          <CrusadeForm
            workspaceId={wid}
            crusade={crusade}
            onSaved={() => {
              setEditing(false);
              void load();
            }}
            onCancel={() => setEditing(false)}
          />
        ) : (
          <dl className="kv">
            <dt>Days and hours</dt>
            <dd>
              {crusade.days.join(', ')}, {crusade.start_time}–{crusade.end_time} (recipient’s time)
            </dd>
            <dt>Dates</dt>
            <dd>
              {crusade.start_date ?? 'from start'} → {crusade.end_date ?? 'open-ended'}
            </dd>
            <dt>Throttle</dt>
            <dd>{crusade.throttle_per_minute ? `${crusade.throttle_per_minute} messages per minute across its campaigns` : 'none'}</dd>
            <dt>Jitter</dt>
            <dd>{crusade.jitter_seconds} seconds</dd>
          </dl>
        )}
      </section>
    </div>
  );
}
