// Settings → Members: who belongs to this workspace, with which role; owners and admins
// add people, change roles and remove members. The server has the last word on every change.

import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { endpoints, errorMessage, ROLES, type Member, type Role } from '../../api';
import { useSignedIn } from '../../session';
import { useWorkspace } from '../../shell/Shell';
import { CopyButton } from '../../CopyButton';
import { ErrorBanner, formatDate, Loading, PageHeader, RoleBadge } from '../../ui';

export function MembersPage() {
  const workspace = useWorkspace();
  const session = useSignedIn();
  const [members, setMembers] = useState<Member[] | null>(null);
  const [error, setError] = useState<string | null>(null);

  const myRole = workspace.role;
  const canManage = myRole === 'owner' || myRole === 'admin';
  const assignable: Role[] = myRole === 'owner' ? ROLES : ROLES.filter((r) => r !== 'owner');

  const load = useCallback(async () => {
    try {
      setMembers(await endpoints.members(workspace.workspace_id));
      setError(null);
    } catch (e) {
      setError(errorMessage(e));
    }
  }, [workspace.workspace_id]);

  useEffect(() => {
    setMembers(null);
    void load();
  }, [load]);

  return (
    <div className="page">
      <PageHeader
        title="Members"
        description={`People in ${workspace.name} and what they may do. Role changes are recorded in the audit log.`}
      />
      {canManage && <InviteForm workspaceId={workspace.workspace_id} roles={assignable} onAdded={load} />}
      <ErrorBanner message={error} testId="members-error" />
      {members === null && !error ? (
        <Loading />
      ) : (
        members && (
          <div className="table-wrap">
            <table className="table" data-testid="members-table">
              <thead>
                <tr>
                  <th>Email</th>
                  <th>Name</th>
                  <th>Role</th>
                  <th>Joined</th>
                  {canManage && <th aria-label="Actions" />}
                </tr>
              </thead>
              <tbody>
                {members.map((m) => (
                  <MemberRow
                    key={m.user_id}
                    member={m}
                    isMe={m.user_id === session.user.id}
                    canManage={canManage && (myRole === 'owner' || m.role !== 'owner')}
                    showActionsColumn={canManage}
                    roles={assignable}
                    workspaceId={workspace.workspace_id}
                    onChanged={(updated) =>
                      setMembers((list) => list && list.map((x) => (x.user_id === updated.user_id ? { ...x, ...updated } : x)))
                    }
                    onRemoved={() => setMembers((list) => list && list.filter((x) => x.user_id !== m.user_id))}
                  />
                ))}
              </tbody>
            </table>
            {members.length === 0 && <p className="muted pad">No members.</p>}
          </div>
        )
      )}
    </div>
  );
}

interface RowProps {
  member: Member;
  isMe: boolean;
  canManage: boolean;
  showActionsColumn: boolean;
  roles: Role[];
  workspaceId: string;
  onChanged: (m: Member) => void;
  onRemoved: () => void;
}

function MemberRow({ member, isMe, canManage, showActionsColumn, roles, workspaceId, onChanged, onRemoved }: RowProps) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [confirming, setConfirming] = useState(false);

  async function changeRole(role: Role) {
    setBusy(true);
    setError(null);
    try {
      const updated = await endpoints.setRole(workspaceId, member.user_id, role);
      onChanged(updated && updated.user_id ? updated : { ...member, role });
    } catch (e) {
      setError(errorMessage(e));
    } finally {
      setBusy(false);
    }
  }

  async function remove() {
    setBusy(true);
    setError(null);
    try {
      await endpoints.removeMember(workspaceId, member.user_id);
      onRemoved();
    } catch (e) {
      setError(errorMessage(e));
      setConfirming(false);
    } finally {
      setBusy(false);
    }
  }

  return (
    <tr data-testid="member-row" data-email={member.email} data-role={member.role}>
      <td>
        {member.email}
        {isMe && <span className="muted"> (you)</span>}
        {error && (
          <div className="inline-error" role="alert" data-testid="member-error">
            {error}
          </div>
        )}
      </td>
      <td>{member.name || <span className="muted">—</span>}</td>
      <td>
        {canManage ? (
          <select
            aria-label={`Role of ${member.email}`}
            data-testid="role-select"
            value={member.role}
            disabled={busy}
            onChange={(e) => void changeRole(e.target.value as Role)}
          >
            {roles.map((r) => (
              <option key={r} value={r}>
                {r}
              </option>
            ))}
          </select>
        ) : (
          <RoleBadge role={member.role} />
        )}
      </td>
      <td>{formatDate(member.joined_at)}</td>
      {showActionsColumn && (
        <td className="actions">
          {canManage &&
            (confirming ? (
              <>
                <button className="btn btn-danger btn-sm" disabled={busy} onClick={() => void remove()} data-testid="member-remove-confirm">
                  Remove {isMe ? 'yourself' : ''}
                </button>
                <button className="btn btn-sm" onClick={() => setConfirming(false)}>
                  Cancel
                </button>
              </>
            ) : (
              <button className="btn btn-sm" disabled={busy} onClick={() => setConfirming(true)} data-testid="member-remove">
                Remove
              </button>
            ))}
        </td>
      )}
    </tr>
  );
}

function InviteForm({ workspaceId, roles, onAdded }: { workspaceId: string; roles: Role[]; onAdded: () => Promise<void> }) {
  const [email, setEmail] = useState('');
  const [name, setName] = useState('');
  const [role, setRole] = useState<Role>('agent');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [result, setResult] = useState<{ email: string; inviteUrl: string | null } | null>(null);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    setResult(null);
    try {
      const res = await endpoints.addMember(workspaceId, { email: email.trim(), name: name.trim() || undefined, role });
      setResult({ email: email.trim(), inviteUrl: res.invite_url });
      setEmail('');
      setName('');
      await onAdded();
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <section className="card">
      <h2>Add a member</h2>
      <form className="form-row" onSubmit={submit} data-testid="invite-form">
        <label>
          Email
          <input type="email" required value={email} onChange={(e) => setEmail(e.target.value)} data-testid="invite-email" />
        </label>
        <label>
          Name
          <input value={name} onChange={(e) => setName(e.target.value)} placeholder="optional" data-testid="invite-name" />
        </label>
        <label>
          Role
          <select value={role} onChange={(e) => setRole(e.target.value as Role)} data-testid="invite-role">
            {roles.map((r) => (
              <option key={r} value={r}>
                {r}
              </option>
            ))}
          </select>
        </label>
        <button className="btn btn-primary" type="submit" disabled={busy} data-testid="invite-submit">
          {busy ? 'Adding…' : 'Add member'}
        </button>
      </form>
      <ErrorBanner message={error} testId="invite-error" />
      {result && (
        <div className="alert alert-ok" role="status" data-testid="invite-result">
          {result.inviteUrl ? (
            <>
              <p>
                {result.email} has no account yet. Send them this invitation link — it is shown only once and lets
                them set a password:
              </p>
              <div className="secret">
                <code data-testid="invite-url">{result.inviteUrl}</code>
                <CopyButton text={result.inviteUrl} />
              </div>
            </>
          ) : (
            <p>{result.email} was added to the workspace.</p>
          )}
        </div>
      )}
    </section>
  );
}
