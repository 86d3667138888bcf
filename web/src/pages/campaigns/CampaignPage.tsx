// One campaign: status and lifecycle (start, pause, resume, cancel — or a link to the crusade
// that drives it), live counters from `campaign:<id>`, its content (editable in draft, scheduled
// and paused), and the dry run. "Who else is here" is the shell's strip for the same topic.

import { useCallback, useEffect, useState } from 'react';
import { Link, useNavigate, useParams } from 'react-router-dom';
import { sender, editable, deletable, type Campaign, type CampaignStatus, type Crusade } from '../../senderApi';
import { can } from '../../lib/permissions';
import { countersOf, liveUpdateOf, type Counters } from '../../lib/counters';
import { useTopicEvents } from '../../realtime/live';
import { useWorkspace } from '../../shell/Shell';
import { EditableHeading, formatDate, Loading, PageHeader, ProblemBanner, problemOf, StatusBadge, type Problem } from '../../ui';
import { CampaignForm } from './CampaignForm';
import { audienceText } from './CampaignsPage';
import { LiveCounters } from './LiveCounters';
import { Lifecycle } from './Lifecycle';
import { PreviewPanel } from './PreviewPanel';

export function CampaignPage() {
  const workspace = useWorkspace();
  const wid = workspace.workspace_id;
  const { id = '' } = useParams();
  const navigate = useNavigate();
  const canManage = can(workspace.role, 'ManageCampaigns');
  const [campaign, setCampaign] = useState<Campaign | null>(null);
  const [counters, setCounters] = useState<Counters>(countersOf(null));
  const [crusade, setCrusade] = useState<Crusade | null>(null);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [editing, setEditing] = useState(false);
  const [previewVersion, setPreviewVersion] = useState(0);

  const load = useCallback(async () => {
    try {
      const c = await sender.campaign(wid, id);
      setCampaign(c);
      setCounters(countersOf(c.counters));
      setCrusade(c.crusade_id ? await sender.crusade(wid, c.crusade_id).catch(() => null) : null);
      setProblem(null);
    } catch (e) {
      setProblem(problemOf(e));
    }
  }, [wid, id]);

  useEffect(() => {
    void load();
  }, [load]);

  const live = useTopicEvents(wid, `campaign:${id}`, {
    event: (e) => {
      const u = liveUpdateOf(e.kind, e.data);
      if (!u) return;
      if (u.counters) setCounters(u.counters);
      if (u.status) {
        const status = u.status as CampaignStatus;
        setCampaign((c) => (c && c.status !== status ? { ...c, status } : c));
        // A status change also moves timestamps (started, finished): reload the record.
        if (e.kind === 'status') void load();
      }
    },
    resync: () => void load(),
  });

  if (!campaign) {
    return (
      <div className="page" data-testid="campaign-page">
        <ProblemBanner problem={problem} testId="campaign-load-error" />
        {!problem && <Loading />}
        {problem && <Link to={`/w/${workspace.slug}/campaigns`}>Back to campaigns</Link>}
      </div>
    );
  }

  async function remove() {
    if (!campaign || !window.confirm(`Delete the campaign “${campaign.name}”?`)) return;
    try {
      await sender.deleteCampaign(wid, campaign.id);
      navigate(`/w/${workspace.slug}/campaigns`);
    } catch (e) {
      setProblem(problemOf(e));
    }
  }

  const inCrusade = campaign.crusade_id !== null;
  const running = campaign.status === 'running';
  return (
    <div className="page" data-testid="campaign-page" data-id={campaign.id} data-status={campaign.status}>
      <p className="hint">
        <Link to={`/w/${workspace.slug}/campaigns`}>← Campaigns</Link>
      </p>
      <PageHeader title={campaign.name}>
        <StatusBadge status={campaign.status} testId="campaign-status" />
      </PageHeader>
      <ProblemBanner problem={problem} testId="campaign-error" />

      <section className="card" data-testid="campaign-progress">
        <div className="page-header">
          <div>
            <h2>Progress</h2>
            <p className="hint">
              Started {formatDate(campaign.started_at)} · finished {formatDate(campaign.finished_at)}
            </p>
          </div>
          {canManage && !inCrusade && (
            <Lifecycle
              status={campaign.status}
              what="campaign"
              onMove={async (action) => {
                const c = await sender.moveCampaign(wid, campaign.id, action);
                setCampaign((old) => (old ? { ...old, ...c, counters: old.counters } : c));
                await load();
              }}
            />
          )}
        </div>
        {inCrusade && (
          <p className="alert alert-warn" data-testid="driven-by-crusade">
            This campaign is part of the crusade{' '}
            <Link to={`/w/${workspace.slug}/crusades/${campaign.crusade_id}`}>
              {crusade?.name ?? 'crusade'}
            </Link>
            : it starts, pauses, resumes and cancels with the crusade, on the crusade’s schedule.
          </p>
        )}
        <LiveCounters counters={counters} lastEventAt={live.at} running={running} />
      </section>

      <section className="card" data-testid="campaign-content">
        <EditableHeading
          title="Content"
          testId="campaign"
          onEdit={canManage && editable(campaign.status) && !editing ? () => setEditing(true) : undefined}
          onDelete={canManage && deletable(campaign.status) ? () => void remove() : undefined}
        />
        {canManage && campaign.status === 'running' && <p className="hint">Pause the campaign to change its content.</p>}
        {editing ? (
          <CampaignForm
            workspaceId={wid}
            campaign={campaign}
            onSaved={(c) => {
              setEditing(false);
              setCampaign((old) => ({ ...c, counters: old?.counters }));
              setPreviewVersion((v) => v + 1);
              void load();
            }}
            onCancel={() => setEditing(false)}
          />
        ) : (
          <CampaignSummary campaign={campaign} />
        )}
      </section>

      {(campaign.status === 'draft' || campaign.status === 'paused' || campaign.status === 'scheduled') && (
        <PreviewPanel workspaceId={wid} campaignId={campaign.id} version={previewVersion} />
      )}
    </div>
  );
}

function CampaignSummary({ campaign: c }: { campaign: Campaign }) {
  return (
    <>
      <dl className="kv" data-testid="campaign-summary">
        <dt>Audience</dt>
        <dd data-testid="summary-audience">{audienceText(c)}</dd>
        <dt>Number pool</dt>
        <dd>{c.number_pool.length ? `${c.number_pool.length} numbers` : 'every active SMS number'}</dd>
        <dt>Retext policy</dt>
        <dd>
          recipient {c.retext_recipient_days} days · pair {c.retext_pair_days} days{c.vertical ? ` · ${c.vertical}` : ''}
        </dd>
        <dt>Opt-out language</dt>
        <dd>{c.opt_out_language || <span className="muted">none</span>}</dd>
      </dl>
      {c.steps.map((s, i) => (
        <div className="step" key={i} data-testid="summary-step">
          <strong>{i === 0 ? 'At launch' : `Follow-up ${s.after_days} day${s.after_days === 1 ? '' : 's'} later, without a reply`}</strong>
          {s.templates.map((t, k) => (
            <p key={k} className="body-cell mono">
              {t}
            </p>
          ))}
        </div>
      ))}
    </>
  );
}
