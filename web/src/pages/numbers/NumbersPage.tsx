// Numbers: the workspace's Twilio accounts and the phone numbers sent from them. Everyone sees
// both tables; owners and admins add, edit, pause and import. Auth tokens go in and never come
// back: the server shows only whether one is set and its last four characters.

import { useCallback, useEffect, useState } from 'react';
import { endpoints, errorMessage, type CarrierAccount } from '../../api';
import { useWorkspace } from '../../shell/Shell';
import { ErrorBanner, PageHeader } from '../../ui';
import { AccountsSection } from './Accounts';
import { NumbersSection } from './Numbers';

export function NumbersPage() {
  const workspace = useWorkspace();
  const canManage = workspace.role === 'owner' || workspace.role === 'admin';
  const [accounts, setAccounts] = useState<CarrierAccount[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  // Bumped when numbers change, so account counts and the number list refresh together.
  const [version, setVersion] = useState(0);

  const loadAccounts = useCallback(async () => {
    try {
      setAccounts(await endpoints.accounts(workspace.workspace_id));
      setError(null);
    } catch (e) {
      setError(errorMessage(e));
    }
  }, [workspace.workspace_id]);

  useEffect(() => {
    setAccounts(null);
    void loadAccounts();
  }, [loadAccounts, version]);

  return (
    <div className="page" data-testid="numbers-page">
      <PageHeader
        title="Numbers"
        description={
          canManage
            ? `Twilio accounts and phone numbers of ${workspace.name}. Every change is recorded in the audit log.`
            : `Twilio accounts and phone numbers of ${workspace.name}. Your role can view them; owners and admins change them.`
        }
      />
      <ErrorBanner message={error} testId="accounts-error" />
      <AccountsSection
        workspaceId={workspace.workspace_id}
        accounts={accounts}
        canManage={canManage}
        onChanged={loadAccounts}
      />
      <NumbersSection
        workspaceId={workspace.workspace_id}
        accounts={accounts ?? []}
        canManage={canManage}
        version={version}
        onChanged={() => setVersion((v) => v + 1)}
      />
    </div>
  );
}
