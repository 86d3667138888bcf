// Start / pause / resume / cancel buttons for a campaign or crusade: only the moves its status
// allows, only for roles that manage campaigns. Cancel asks first. The server's refusal (e.g.
// 409 `driven_by_crusade`) is shown with the field it names.

import { useState } from 'react';
import { allowedActions, type CampaignStatus, type LifecycleAction } from '../../senderApi';
import { ProblemBanner, problemOf, type Problem } from '../../ui';

const LABELS: Record<LifecycleAction, string> = { start: 'Start', pause: 'Pause', resume: 'Resume', cancel: 'Cancel' };

export function Lifecycle({
  status,
  what,
  onMove,
}: {
  status: CampaignStatus;
  /** "campaign" or "crusade", for the confirmation. */
  what: string;
  onMove: (action: LifecycleAction) => Promise<void>;
}) {
  const [busy, setBusy] = useState<LifecycleAction | null>(null);
  const [problem, setProblem] = useState<Problem | null>(null);
  const actions = allowedActions(status);

  async function run(action: LifecycleAction) {
    if (action === 'cancel' && !window.confirm(`Cancel this ${what}? Queued messages will not be sent. This cannot be undone.`)) return;
    setBusy(action);
    setProblem(null);
    try {
      await onMove(action);
    } catch (e) {
      setProblem(problemOf(e));
    } finally {
      setBusy(null);
    }
  }

  if (actions.length === 0) return null;
  return (
    <div>
      <div className="section-actions" data-testid="lifecycle">
        {actions.map((a) => (
          <button
            key={a}
            className={`btn ${a === 'cancel' ? 'btn-danger' : a === 'start' || a === 'resume' ? 'btn-primary' : ''}`}
            disabled={busy !== null}
            onClick={() => void run(a)}
            data-testid={`action-${a}`}
          >
            {busy === a ? `${LABELS[a]}…` : LABELS[a]}
          </button>
        ))}
      </div>
      <ProblemBanner problem={problem} testId="lifecycle-error" />
    </div>
  );
}
