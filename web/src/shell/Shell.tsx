// The signed-in frame: header (product, workspace switcher, presence slot, theme, user menu),
// the workspace's left navigation, and the current page.

import { useEffect, useRef, useState } from 'react';
import { Link, NavLink, Outlet, useLocation, useNavigate, useOutletContext, useParams } from 'react-router-dom';
import type { Membership } from '../api';
import { useSession, useSignedIn } from '../session';
import { applyTheme, currentTheme, type Theme } from '../theme';
import { SECTIONS, SETTINGS } from './sections';
import { PresenceAvatars, RealtimeProvider, TopicStrip } from '../realtime/react';
import { topicOf } from '../realtime/topics';

export interface WorkspaceContext {
  workspace: Membership;
}

/** The workspace of the current page, for pages rendered inside the shell. */
export function useWorkspace(): Membership {
  return useOutletContext<WorkspaceContext>().workspace;
}

export function Shell() {
  const session = useSignedIn();
  const { slug } = useParams();
  const workspace = session.memberships.find((m) => m.slug === slug);

  const location = useLocation();
  const topic = topicOf(location.pathname);

  return (
    <RealtimeProvider>
    <div className="shell">
      <Header workspace={workspace} />
      <div className="shell-body">
        {workspace ? (
          <>
            <Nav slug={workspace.slug} />
            <main className="content" data-testid="content">
              {topic && <TopicStrip workspaceId={workspace.workspace_id} topic={topic} />}
              <Outlet context={{ workspace } satisfies WorkspaceContext} />
            </main>
          </>
        ) : (
          <main className="content">
            <div className="empty-state" data-testid="workspace-not-found">
              <h2>Workspace not available</h2>
              <p className="muted">
                There is no workspace “{slug}”, or you are not a member of it.
              </p>
              <Link to="/">Go to your workspace</Link>
            </div>
          </main>
        )}
      </div>
    </div>
    </RealtimeProvider>
  );
}

function Header({ workspace }: { workspace?: Membership }) {
  const session = useSignedIn();
  const navigate = useNavigate();
  const location = useLocation();

  function switchWorkspace(slug: string) {
    // Keep the section the user is on: /w/demo/settings/members -> /w/acme/settings/members.
    const rest = location.pathname.split('/').slice(3).join('/');
    navigate(`/w/${slug}/${rest}`);
  }

  return (
    <header className="header" data-testid="shell-header">
      <Link to="/" className="brand" data-testid="brand">
        <span className="brand-mark" aria-hidden="true" />
        Switchboard
      </Link>
      <label className="ws-switch">
        <span className="sr-only">Workspace</span>
        <select
          data-testid="workspace-switcher"
          value={workspace?.slug ?? ''}
          onChange={(e) => switchWorkspace(e.target.value)}
        >
          {!workspace && <option value="">Choose a workspace</option>}
          {session.memberships.map((m) => (
            <option key={m.workspace_id} value={m.slug}>
              {m.name} · {m.role}
            </option>
          ))}
        </select>
      </label>
      <div className="header-spacer" />
      <PresenceAvatars workspaceId={workspace?.workspace_id} />
      <ThemeToggle />
      <UserMenu />
    </header>
  );
}

function ThemeToggle() {
  const [theme, setTheme] = useState<Theme>(currentTheme);
  const next: Theme = theme === 'dark' ? 'light' : 'dark';
  return (
    <button
      className="btn btn-ghost icon-btn"
      data-testid="theme-toggle"
      data-theme-current={theme}
      title={`Switch to ${next} theme`}
      aria-label={`Switch to ${next} theme`}
      onClick={() => {
        applyTheme(next);
        setTheme(next);
      }}
    >
      {theme === 'dark' ? '☀' : '☾'}
    </button>
  );
}

function UserMenu() {
  const session = useSignedIn();
  const { signOut } = useSession();
  const [open, setOpen] = useState(false);
  const ref = useRef<HTMLDivElement>(null);

  useEffect(() => {
    if (!open) return;
    const close = (e: MouseEvent) => {
      if (ref.current && !ref.current.contains(e.target as Node)) setOpen(false);
    };
    const esc = (e: KeyboardEvent) => e.key === 'Escape' && setOpen(false);
    document.addEventListener('mousedown', close);
    document.addEventListener('keydown', esc);
    return () => {
      document.removeEventListener('mousedown', close);
      document.removeEventListener('keydown', esc);
    };
  }, [open]);

  const initials = (session.user.name || session.user.email).slice(0, 1).toUpperCase();
  return (
    <div className="user-menu" ref={ref}>
      <button
        className="btn btn-ghost user-btn"
        data-testid="user-menu"
        aria-haspopup="menu"
        aria-expanded={open}
        onClick={() => setOpen((o) => !o)}
      >
        <span className="avatar" aria-hidden="true">
          {initials}
        </span>
        <span className="user-email" data-testid="user-email">
          {session.user.email}
        </span>
      </button>
      {open && (
        <div className="menu" role="menu">
          <div className="menu-info">
            <strong>{session.user.name || session.user.email}</strong>
            <span className="muted">{session.user.email}</span>
            {session.user.is_super_admin && <span className="badge">super admin</span>}
          </div>
          <button role="menuitem" data-testid="sign-out" onClick={() => void signOut(false)}>
            Sign out
          </button>
          <button role="menuitem" data-testid="sign-out-everywhere" onClick={() => void signOut(true)}>
            Sign out everywhere
          </button>
        </div>
      )}
    </div>
  );
}

function Nav({ slug }: { slug: string }) {
  const base = `/w/${slug}`;
  const link = (path: string, label: string) => (
    <NavLink key={path} to={`${base}/${path}`} data-testid={`nav-${path.replace('settings/', '')}`} className="nav-link">
      {label}
    </NavLink>
  );
  return (
    <nav className="nav" aria-label="Sections">
      {SECTIONS.map((s) => link(s.path, s.label))}
      <div className="nav-group">Settings</div>
      {SETTINGS.map((s) => link(s.path, s.label))}
      <div className="nav-sep" />
      <a className="nav-link" href="/api/docs" target="_blank" rel="noopener" data-testid="nav-api-docs">
        API docs ↗
      </a>
    </nav>
  );
}
