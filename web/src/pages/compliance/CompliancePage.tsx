// Compliance: who we must not text. Opt-outs (with the plain-language revocations a person must
// review), the internal DNC list (phones and ranges), and numbers the carrier called undeliverable.
// Every role but viewer sees them; owners, admins and managers record and import; only owners
// and admins lift an opt-out or a DNC entry (audited).

import { useState } from 'react';
import { can } from '../../lib/permissions';
import { useWorkspace } from '../../shell/Shell';
import { PageHeader, Tabs } from '../../ui';
import { DncTab } from './DncTab';
import { OptOutsTab } from './OptOutsTab';
import { UndeliverableTab } from './UndeliverableTab';

const TABS = [
  { id: 'opt-outs', label: 'Opt-outs' },
  { id: 'dnc', label: 'Do not contact' },
  { id: 'undeliverable', label: 'Undeliverable' },
];

export function CompliancePage() {
  const workspace = useWorkspace();
  const [tab, setTab] = useState('opt-outs');
  if (!can(workspace.role, 'ViewCompliance')) {
    return (
      <div className="page" data-testid="compliance-page">
        <h1>Compliance</h1>
        <div className="empty-state" data-testid="compliance-no-access">
          <h2>You don't have access to compliance lists.</h2>
          <p className="muted">Opt-outs and the DNC list hold personal data; every role but viewer can see them. Ask an owner or admin.</p>
        </div>
      </div>
    );
  }
  const perms = {
    manage: can(workspace.role, 'ManageCompliance'),
    lift: can(workspace.role, 'LiftSuppression'),
  };
  return (
    <div className="page" data-testid="compliance-page">
      <PageHeader
        title="Compliance"
        description="Nobody here is texted by any campaign of this workspace. Opt-outs cover the whole workspace, whichever number they wrote to."
      />
      <Tabs tabs={TABS} current={tab} onSelect={setTab} />
      {tab === 'opt-outs' && <OptOutsTab workspaceId={workspace.workspace_id} {...perms} />}
      {tab === 'dnc' && <DncTab workspaceId={workspace.workspace_id} {...perms} />}
      {tab === 'undeliverable' && <UndeliverableTab workspaceId={workspace.workspace_id} />}
    </div>
  );
}
