// The signed-in session, shared by every page: loaded once from /api/auth/session,
// replaced on sign-in, cleared on sign-out or when any request says the session ended.

import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import { ApiError, endpoints, setCsrfToken, setUnauthorizedHandler, type Session } from './api';

type State = { status: 'loading' } | { status: 'signed-out' } | { status: 'signed-in'; session: Session };

interface SessionApi {
  state: State;
  /** Store a session just returned by a sign-in endpoint. */
  signedIn: (s: Session) => void;
  signOut: (everywhere?: boolean) => Promise<void>;
  /** Reload the session (memberships may have changed). */
  refresh: () => Promise<void>;
}

const SessionContext = createContext<SessionApi | null>(null);

export function SessionProvider({ children }: { children: ReactNode }) {
  const [state, setState] = useState<State>({ status: 'loading' });

  const signedIn = useCallback((s: Session) => {
    setCsrfToken(s.csrf_token);
    setState({ status: 'signed-in', session: s });
  }, []);

  const signedOut = useCallback(() => {
    setCsrfToken(null);
    setState({ status: 'signed-out' });
  }, []);

  const refresh = useCallback(async () => {
    try {
      signedIn(await endpoints.session());
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) signedOut();
      else throw e;
    }
  }, [signedIn, signedOut]);

  const signOut = useCallback(
    async (everywhere = false) => {
      try {
        await (everywhere ? endpoints.logoutAll() : endpoints.logout());
      } finally {
        signedOut();
      }
    },
    [signedOut],
  );

  useEffect(() => {
    setUnauthorizedHandler(signedOut);
    refresh().catch(() => signedOut());
    return () => setUnauthorizedHandler(null);
  }, [refresh, signedOut]);

  const value = useMemo(() => ({ state, signedIn, signOut, refresh }), [state, signedIn, signOut, refresh]);
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export function useSession(): SessionApi {
  const ctx = useContext(SessionContext);
  if (!ctx) throw new Error('useSession outside SessionProvider');
  return ctx;
}

/** The current session; only for components rendered behind RequireAuth. */
export function useSignedIn(): Session {
  const { state } = useSession();
  if (state.status !== 'signed-in') throw new Error('useSignedIn without a session');
  return state.session;
}
