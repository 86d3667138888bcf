// React glue for the realtime client: one client per signed-in tab (RealtimeProvider), a hook
// per topic (useTopic), and the console's pieces — presence avatars for the header, the
// "who else is here" strip for pages with a topic, and the drop bar with fading notes.

import { createContext, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import { RealtimeClient, type DropNote, type PresenceUser } from './client';

const Ctx = createContext<RealtimeClient | null>(null);

export function RealtimeProvider({ children }: { children: ReactNode }) {
  const [client, setClient] = useState<RealtimeClient | null>(null);
  useEffect(() => {
    const c = new RealtimeClient();
    setClient(c);
    return () => c.close();
  }, []);
  return <Ctx.Provider value={client}>{children}</Ctx.Provider>;
}

export function useRealtime(): RealtimeClient | null {
  return useContext(Ctx);
}

/** Presence and drops of one topic while the component is mounted. */
export function useTopic(workspace: string | undefined, topic: string, meta: unknown = {}) {
  const client = useRealtime();
  const [users, setUsers] = useState<PresenceUser[]>([]);
  const [drops, setDrops] = useState<DropNote[]>([]);
  const [refused, setRefused] = useState<string | null>(null);
  const metaJson = JSON.stringify(meta);
  useEffect(() => {
    if (!client || !workspace) return;
    setRefused(null);
    return client.subscribe(
      workspace,
      topic,
      { presence: setUsers, drops: setDrops, refused: (code) => setRefused(code) },
      JSON.parse(metaJson),
    );
  }, [client, workspace, topic, metaJson]);
  return useMemo(
    () => ({
      users,
      drops,
      refused,
      drop: (text: string, anchor?: string) => workspace && client?.drop(workspace, topic, text, anchor),
    }),
    [users, drops, refused, client, workspace, topic],
  );
}

function initials(name: string): string {
  return name
    .split(/\s+/)
    .filter(Boolean)
    .slice(0, 2)
    .map((p) => p[0]!.toUpperCase())
    .join('');
}

function Avatars({ users, testid }: { users: PresenceUser[]; testid: string }) {
  return (
    <>
      {users.map((u) => (
        <span
          key={u.user_id}
          className="avatar"
          data-testid={testid}
          data-user-id={u.user_id}
          data-name={u.name}
          title={u.conns.length > 1 ? `${u.name} (${u.conns.length} tabs)` : u.name}
        >
          {initials(u.name)}
        </span>
      ))}
    </>
  );
}

/** The header's presence slot: who is online in the workspace. */
export function PresenceAvatars({ workspaceId }: { workspaceId?: string }) {
  const { users } = useTopic(workspaceId, 'workspace');
  return (
    <div id="presence" className="presence" data-testid="presence" aria-label="People here now">
      <Avatars users={users} testid="presence-avatar" />
    </div>
  );
}

/** "Who else is here" and the drop bar for a page's topic. */
export function TopicStrip({ workspaceId, topic }: { workspaceId: string; topic: string }) {
  const { users, drops, drop, refused } = useTopic(workspaceId, topic, { page: topic });
  const [text, setText] = useState('');
  if (refused) return null;
  return (
    <div className="topic-strip" data-testid="topic-strip" data-topic={topic}>
      <div className="here" data-testid="here">
        <span className="muted">Here:</span>
        <Avatars users={users} testid="here-avatar" />
      </div>
      <form
        className="drop-form"
        onSubmit={(e) => {
          e.preventDefault();
          if (text.trim()) drop(text.trim());
          setText('');
        }}
      >
        <input
          data-testid="drop-input"
          placeholder="Drop a note for everyone here…"
          maxLength={280}
          value={text}
          onChange={(e) => setText(e.target.value)}
        />
        <button className="btn" data-testid="drop-send" type="submit">
          Drop
        </button>
      </form>
      <div className="drops" data-testid="drops">
        {drops.map((d) => (
          <DropView key={d.id} note={d} />
        ))}
      </div>
    </div>
  );
}

function DropView({ note }: { note: DropNote }) {
  const [, tick] = useState(0);
  useEffect(() => {
    const t = setInterval(() => tick((n) => n + 1), 250);
    return () => clearInterval(t);
  }, []);
  const left = note.expires_at - Date.now();
  const opacity = Math.max(0.15, Math.min(1, left / 5000));
  return (
    <div className="drop" data-testid="drop" data-drop-id={note.id} style={{ opacity }}>
      <strong>{note.name}</strong> {note.text}
    </div>
  );
}
