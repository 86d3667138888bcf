// The reference client of the hub's protocol (docs/protocol.md): one WebSocket to /ws,
// subscriptions by (workspace, topic), reconnect with exponential backoff and jitter, and on
// reconnect a resubscribe with the last {epoch, seq} seen, so missed events arrive in order or
// a `resync` tells the page to reload its state. Presence and drops are kept per topic.

export interface PresenceConn {
  conn: string;
  meta: unknown;
}

export interface PresenceUser {
  user_id: string;
  name: string;
  conns: PresenceConn[];
}

export interface DropNote {
  id: string;
  user_id: string;
  name: string;
  text: string;
  anchor: string | null;
  expires_at: number;
}

export interface RecordEvent {
  topic: string;
  kind: string;
  data: unknown;
  epoch: string;
  seq: number;
}

export type Status = 'connecting' | 'open' | 'closed';

/** What a page hears about one topic. */
export interface TopicHandlers {
  /** Presence changed (the full list, sorted by name). */
  presence?: (users: PresenceUser[]) => void;
  /** Live drops changed. */
  drops?: (notes: DropNote[]) => void;
  event?: (e: RecordEvent) => void;
  /** Events were lost beyond recovery: reload the topic's state from the API. */
  resync?: (reason: string) => void;
  /** The server refused the subscription (code names the reason). */
  refused?: (code: string, message: string) => void;
}

interface Topic {
  workspace: string;
  topic: string;
  meta: unknown;
  since: { epoch: string; seq: number } | null;
  users: Map<string, PresenceUser>;
  drops: Map<string, DropNote>;
  listeners: Set<TopicHandlers>;
}

const key = (workspace: string, topic: string) => `${workspace}/${topic}`;

export class RealtimeClient {
  private ws: WebSocket | null = null;
  private topics = new Map<string, Topic>();
  private attempt = 0;
  private stopped = false;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private fadeTimer: ReturnType<typeof setInterval>;
  private statusListeners = new Set<(s: Status) => void>();
  status: Status = 'connecting';
  /** This connection's id, from the server's hello. */
  conn: string | null = null;

  constructor(private url: string = defaultUrl()) {
    this.fadeTimer = setInterval(() => this.fadeDrops(), 500);
    this.connect();
  }

  onStatus(fn: (s: Status) => void): () => void {
    this.statusListeners.add(fn);
    return () => this.statusListeners.delete(fn);
  }

  /** Follows a topic; returns the function that stops following it. */
  subscribe(workspace: string, topic: string, handlers: TopicHandlers, meta: unknown = {}): () => void {
    const k = key(workspace, topic);
    let t = this.topics.get(k);
    if (!t) {
      t = { workspace, topic, meta, since: null, users: new Map(), drops: new Map(), listeners: new Set() };
      this.topics.set(k, t);
      this.sendSubscribe(t);
    }
    t.listeners.add(handlers);
    handlers.presence?.(sortedUsers(t));
    handlers.drops?.([...t.drops.values()]);
    return () => {
      const cur = this.topics.get(k);
      if (!cur) return;
      cur.listeners.delete(handlers);
      if (cur.listeners.size === 0) {
        this.topics.delete(k);
        this.send({ type: 'unsubscribe', workspace, topic });
      }
    };
  }

  /** Replaces this tab's presence meta on a topic (what it focuses, typing...). */
  setMeta(workspace: string, topic: string, meta: unknown) {
    const t = this.topics.get(key(workspace, topic));
    if (!t) return;
    t.meta = meta;
    this.send({ type: 'presence', workspace, topic, meta });
  }

  /** Leaves a short note on a topic for everyone there; it fades after ttlMs (max 5 min). */
  drop(workspace: string, topic: string, text: string, anchor?: string, ttlMs?: number) {
    this.send({ type: 'drop', workspace, topic, text, anchor, ttl_ms: ttlMs });
  }

  close() {
    this.stopped = true;
    clearInterval(this.fadeTimer);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.ws?.close(1000);
  }

  private setStatus(s: Status) {
    this.status = s;
    this.statusListeners.forEach((fn) => fn(s));
  }

  private connect() {
    if (this.stopped) return;
    this.setStatus('connecting');
    const ws = new WebSocket(this.url);
    this.ws = ws;
    ws.onopen = () => {
      this.attempt = 0;
      this.setStatus('open');
      // Resubscribe everything, each from the last position seen.
      for (const t of this.topics.values()) this.sendSubscribe(t);
    };
    ws.onmessage = (m) => this.onFrame(JSON.parse(String(m.data)));
    ws.onclose = () => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.setStatus('closed');
      // Presence from the lost connection is stale; the resubscribe brings a fresh state.
      for (const t of this.topics.values()) {
        t.users.clear();
        this.emitPresence(t);
      }
      if (!this.stopped) this.scheduleReconnect();
    };
  }

  /** Exponential backoff (0.5 s doubling to 30 s) with full jitter. */
  private scheduleReconnect() {
    const cap = Math.min(30_000, 500 * 2 ** this.attempt);
    this.attempt += 1;
    const delay = cap / 2 + Math.random() * (cap / 2);
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  private send(frame: object) {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(frame));
  }

  private sendSubscribe(t: Topic) {
    this.send({ type: 'subscribe', workspace: t.workspace, topic: t.topic, meta: t.meta, since: t.since ?? undefined });
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  private onFrame(f: any) {
    if (f.type === 'hello') {
      this.conn = f.conn;
      return;
    }
    const t = f.workspace && f.topic ? this.topics.get(key(f.workspace, f.topic)) : undefined;
    if (!t) return;
    switch (f.type) {
      case 'subscribed':
        t.since = { epoch: f.epoch, seq: f.seq };
        break;
      case 'event':
        t.since = { epoch: f.epoch, seq: f.seq };
        t.listeners.forEach((l) => l.event?.(f as RecordEvent));
        break;
      case 'resync':
        t.since = { epoch: f.epoch, seq: f.seq };
        t.listeners.forEach((l) => l.resync?.(f.reason));
        break;
      case 'presence_state':
        t.users = new Map((f.users as PresenceUser[]).map((u) => [u.user_id, u]));
        this.emitPresence(t);
        break;
      case 'presence_diff':
        if (f.event === 'leave') t.users.delete(f.user.user_id);
        else t.users.set(f.user.user_id, f.user);
        this.emitPresence(t);
        break;
      case 'drop':
        t.drops.set(f.id, f as DropNote);
        this.emitDrops(t);
        break;
      case 'error':
        t.listeners.forEach((l) => l.refused?.(f.code, f.message));
        break;
    }
  }

  private emitPresence(t: Topic) {
    const users = sortedUsers(t);
    t.listeners.forEach((l) => l.presence?.(users));
  }

  private emitDrops(t: Topic) {
    const notes = [...t.drops.values()];
    t.listeners.forEach((l) => l.drops?.(notes));
  }

  private fadeDrops() {
    const now = Date.now();
    for (const t of this.topics.values()) {
      let changed = false;
      for (const [id, d] of t.drops) {
        if (d.expires_at <= now) {
          t.drops.delete(id);
          changed = true;
        }
      }
      if (changed) this.emitDrops(t);
    }
  }
}

function sortedUsers(t: Topic): PresenceUser[] {
  return [...t.users.values()].sort((a, b) => a.name.localeCompare(b.name));
}

function defaultUrl(): string {
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${proto}//${location.host}/ws`;
}
