// Routes of the console. The server answers every non-API path with index.html,
// so deep links work with the browser's own history.

import { BrowserRouter, Navigate, Route, Routes, useLocation } from 'react-router-dom';
import type { ReactNode } from 'react';
import { SessionProvider, useSession } from './session';
import { LoginPage } from './pages/Login';
import { RecoverPage } from './pages/Recover';
import { Shell } from './shell/Shell';
import { SECTIONS } from './shell/sections';
import { EmptySection } from './pages/EmptySection';
import { MembersPage } from './pages/settings/Members';
import { AuditPage } from './pages/settings/Audit';
import { TokensPage } from './pages/settings/Tokens';
import { PasskeysPage } from './pages/settings/Passkeys';
import { NumbersPage } from './pages/numbers/NumbersPage';
import { CampaignsPage, NewCampaignPage } from './pages/campaigns/CampaignsPage';
import { CampaignPage } from './pages/campaigns/CampaignPage';
import { CrusadesPage } from './pages/crusades/CrusadesPage';
import { CrusadePage } from './pages/crusades/CrusadePage';
import { LeadsPage } from './pages/leads/LeadsPage';
import { CompliancePage } from './pages/compliance/CompliancePage';
import { Loading } from './ui';

function RequireAuth({ children }: { children: ReactNode }) {
  const { state } = useSession();
  const location = useLocation();
  if (state.status === 'loading') return <Loading />;
  if (state.status === 'signed-out') {
    const next = location.pathname + location.search;
    return <Navigate to={next && next !== '/' ? `/login?next=${encodeURIComponent(next)}` : '/login'} replace />;
  }
  return <>{children}</>;
}

function Home() {
  const { state } = useSession();
  if (state.status === 'loading') return <Loading />;
  if (state.status === 'signed-out') return <Navigate to="/login" replace />;
  const first = state.session.memberships[0];
  if (!first) return <NoWorkspace />;
  return <Navigate to={`/w/${first.slug}/${SECTIONS[0].path}`} replace />;
}

function NoWorkspace() {
  const { signOut } = useSession();
  return (
    <div className="center-page">
      <div className="card narrow" data-testid="no-workspace">
        <h1>No workspace yet</h1>
        <p className="muted">
          Your account does not belong to any workspace. Ask an owner or admin of a workspace to add you.
        </p>
        <button className="btn" onClick={() => void signOut()}>
          Sign out
        </button>
      </div>
    </div>
  );
}

export function App() {
  return (
    <BrowserRouter>
      <SessionProvider>
        <Routes>
          <Route path="/login" element={<LoginPage />} />
          <Route path="/recover" element={<RecoverPage />} />
          <Route path="/" element={<Home />} />
          <Route
            path="/w/:slug"
            element={
              <RequireAuth>
                <Shell />
              </RequireAuth>
            }
          >
            <Route index element={<Navigate to={SECTIONS[0].path} replace />} />
            {SECTIONS.filter((s) => s.empty).map((s) => (
              <Route key={s.path} path={s.path} element={<EmptySection section={s} />} />
            ))}
            <Route path="campaigns">
              <Route index element={<CampaignsPage />} />
              <Route path="new" element={<NewCampaignPage />} />
              <Route path=":id" element={<CampaignPage />} />
            </Route>
            <Route path="crusades">
              <Route index element={<CrusadesPage />} />
              <Route path=":id" element={<CrusadePage />} />
            </Route>
            <Route path="leads" element={<LeadsPage />} />
            <Route path="compliance" element={<CompliancePage />} />
            <Route path="numbers" element={<NumbersPage />} />
            <Route path="settings">
              <Route index element={<Navigate to="members" replace />} />
              <Route path="members" element={<MembersPage />} />
              <Route path="audit" element={<AuditPage />} />
              <Route path="tokens" element={<TokensPage />} />
              <Route path="passkeys" element={<PasskeysPage />} />
            </Route>
            <Route path="*" element={<NotFound />} />
          </Route>
          <Route path="*" element={<NotFound standalone />} />
        </Routes>
      </SessionProvider>
    </BrowserRouter>
  );
}

function NotFound({ standalone = false }: { standalone?: boolean }) {
  const body = (
    <div className="empty-state" data-testid="not-found">
      <h2>Page not found</h2>
      <p className="muted">There is nothing at this address.</p>
      <a href="/">Go to your workspace</a>
    </div>
  );
  return standalone ? <div className="center-page">{body}</div> : body;
}
