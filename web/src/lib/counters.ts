// Campaign counters as the server sends them (sender/src/stats.rs `Counters`), in the API's
// single reads and in the engine leader's `stats` events on `campaign:<id>` / `crusade:<id>`.

export interface Counters {
  materialized: number;
  sent: number;
  delivered: number;
  undelivered: number;
  failed: number;
  unknown: number;
  canceled: number;
  replies: number;
  opt_outs: number;
  /** Skipped rows by reason. */
  skipped: Record<string, number>;
  /** Materialized rows not yet final. */
  queued: number;
}

export const EMPTY_COUNTERS: Counters = {
  materialized: 0,
  sent: 0,
  delivered: 0,
  undelivered: 0,
  failed: 0,
  unknown: 0,
  canceled: 0,
  replies: 0,
  opt_outs: 0,
  skipped: {},
  queued: 0,
};

const NUMERIC = ['materialized', 'sent', 'delivered', 'undelivered', 'failed', 'unknown', 'canceled', 'replies', 'opt_outs', 'queued'] as const;

/** Counters from an untrusted payload: missing or malformed numbers count zero. */
export function countersOf(raw: unknown): Counters {
  const c: Counters = { ...EMPTY_COUNTERS, skipped: {} };
  if (!raw || typeof raw !== 'object') return c;
  const r = raw as Record<string, unknown>;
  for (const k of NUMERIC) {
    const v = r[k];
    if (typeof v === 'number' && Number.isFinite(v)) c[k] = v;
  }
  if (r.skipped && typeof r.skipped === 'object') {
    for (const [reason, n] of Object.entries(r.skipped as Record<string, unknown>)) {
      if (typeof n === 'number' && Number.isFinite(n)) c.skipped[reason] = n;
    }
  }
  return c;
}

export function totalSkipped(c: Counters): number {
  return Object.values(c.skipped).reduce((a, b) => a + b, 0);
}

/** Share of materialized rows that are final (sent, failed, unknown, canceled or skipped), 0–1. */
export function progress(c: Counters): number {
  if (c.materialized <= 0) return 0;
  return Math.min(1, Math.max(0, (c.materialized - c.queued) / c.materialized));
}

/** What a `stats` or `status` event on a campaign or crusade topic says. */
export interface LiveUpdate {
  status?: string;
  counters?: Counters;
  /** Per-campaign counters in a crusade's stats event. */
  campaigns?: Record<string, { status?: string; counters: Counters }>;
}

export function liveUpdateOf(kind: string, data: unknown): LiveUpdate | null {
  if (!data || typeof data !== 'object') return null;
  const d = data as Record<string, unknown>;
  const status = typeof d.status === 'string' ? d.status : undefined;
  if (kind === 'status') return status ? { status } : null;
  if (kind !== 'stats') return null;
  const update: LiveUpdate = { status, counters: countersOf(d.counters) };
  if (d.campaigns && typeof d.campaigns === 'object') {
    update.campaigns = {};
    for (const [id, v] of Object.entries(d.campaigns as Record<string, unknown>)) {
      const e = (v ?? {}) as Record<string, unknown>;
      update.campaigns[id] = { status: typeof e.status === 'string' ? e.status : undefined, counters: countersOf(e.counters) };
    }
  }
  return update;
}
