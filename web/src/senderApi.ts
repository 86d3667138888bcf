// The sender engine's endpoints (docs/engine.md "HTTP API"): leads, campaigns with their dry-run
// preview and lifecycle, crusades, and compliance (opt-outs, DNC, undeliverable numbers). Built on
// api.ts, which stays the only place that talks to the server.

import { api } from './api';
import type { Counters } from './lib/counters';
import type { LeadInput } from './lib/csv';

export type CampaignStatus = 'draft' | 'scheduled' | 'running' | 'paused' | 'completed' | 'canceled';
export type LifecycleAction = 'start' | 'pause' | 'resume' | 'cancel';

/** Which actions the lifecycle allows from a status (sender::campaigns::Action::apply). */
export function allowedActions(status: CampaignStatus): LifecycleAction[] {
  switch (status) {
    case 'draft':
      return ['start'];
    case 'scheduled':
      return ['cancel'];
    case 'running':
      return ['pause', 'cancel'];
    case 'paused':
      return ['resume', 'cancel'];
    default:
      return [];
  }
}

export const editable = (s: CampaignStatus) => s === 'draft' || s === 'scheduled' || s === 'paused';
export const deletable = (s: CampaignStatus) => s === 'draft' || s === 'completed' || s === 'canceled';

export interface Lead {
  id: string;
  phone: string;
  first_name: string;
  last_name: string;
  state: string | null;
  time_zone: string | null;
  tags: string[];
  vertical: string | null;
  line_type: string;
  attributes: Record<string, unknown>;
  created_at: string;
}

export interface BulkResult {
  created: number;
  updated: number;
  errors: { index: number; field: string; message: string }[];
}

export interface Audience {
  tags?: string[];
  states?: string[];
  area_codes?: string[];
  vertical?: string;
}

export interface Step {
  after_days: number;
  templates: string[];
}

export interface Campaign {
  id: string;
  name: string;
  status: CampaignStatus;
  crusade_id: string | null;
  steps: Step[];
  audience: Audience;
  number_pool: string[];
  vertical: string | null;
  retext_recipient_days: number;
  retext_pair_days: number;
  opt_out_language: string;
  started_at: string | null;
  materialized_at: string | null;
  finished_at: string | null;
  created_at: string;
  updated_at: string;
  counters?: Counters;
  queued?: number;
}

export interface CampaignInput {
  name: string;
  steps: Step[];
  audience: Audience;
  number_pool: string[];
  retext_recipient_days: number;
  retext_pair_days: number;
  opt_out_language: string;
  crusade_id?: string | null;
  vertical?: string | null;
}

export interface PreviewItem {
  lead_id: string;
  phone: string;
  from_number: string | null;
  body: string | null;
  encoding: 'gsm7' | 'ucs2' | null;
  segments: number;
  cost_usd: number;
  time_zone: string;
  verdict: string;
}

export interface Preview {
  total: number;
  counts: Record<string, number>;
  segments: number;
  cost_usd: number;
  items: PreviewItem[];
  next_cursor: string | null;
}

export interface Crusade {
  id: string;
  name: string;
  status: CampaignStatus;
  days: string[];
  start_time: string;
  end_time: string;
  start_date: string | null;
  end_date: string | null;
  throttle_per_minute: number | null;
  jitter_seconds: number;
  created_at: string;
  updated_at: string;
  campaigns?: Campaign[];
  counters?: Counters;
  queued?: number;
}

export interface CrusadeInput {
  name: string;
  days: string[];
  start_time: string;
  end_time: string;
  start_date: string | null;
  end_date: string | null;
  throttle_per_minute: number | null;
  jitter_seconds: number;
}

export interface OptOut {
  phone: string;
  opted_out_at: string;
  /** keyword, phrase, carrier, manual or import. */
  source: string;
  via_number: string | null;
  needs_review: boolean;
  note: string | null;
}

export interface ConsentEvent {
  id: number;
  kind: 'opt_out' | 'opt_in';
  source: string;
  via_number: string | null;
  message_sid: string | null;
  actor_id: string | null;
  at: string;
}

export interface OptOutDetail {
  phone: string;
  opt_out: OptOut | null;
  history: ConsentEvent[];
}

export interface DncEntry {
  id: string;
  phone: string | null;
  from: string;
  to: string;
  count: number;
  reason: string;
  created_at: string;
  created_by: string | null;
}

export interface Undeliverable {
  phone: string;
  reason: 'invalid' | 'landline';
  error_code: number | null;
  at: string;
}

export interface SuppressionRow {
  row: number;
  status: 'accepted' | 'already_listed' | 'rejected';
  phone?: string;
  field?: string;
  reason?: string;
}

export interface SuppressionReport {
  rows: SuppressionRow[];
  accepted: number;
  already_listed: number;
  rejected: number;
  ignored_columns: string[];
}

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

const ws = (wid: string) => `/api/workspaces/${encodeURIComponent(wid)}`;
const enc = encodeURIComponent;

function query(params: Record<string, string | number | boolean | null | undefined>): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') p.set(k, String(v));
  const s = p.toString();
  return s ? `?${s}` : '';
}

export const sender = {
  leads: (wid: string, q: { q?: string; tag?: string; state?: string; cursor?: string | null; limit?: number }) =>
    api.get<Page<Lead>>(`${ws(wid)}/leads${query(q)}`),
  createLead: (wid: string, lead: LeadInput) => api.post<Lead>(`${ws(wid)}/leads`, lead),
  bulkLeads: (wid: string, leads: LeadInput[]) => api.post<BulkResult>(`${ws(wid)}/leads/bulk`, { leads }),
  deleteLead: (wid: string, id: string) => api.del(`${ws(wid)}/leads/${enc(id)}`),

  campaigns: (wid: string, q: { status?: string; crusade_id?: string } = {}) =>
    api.get<{ items: Campaign[] }>(`${ws(wid)}/campaigns${query(q)}`),
  campaign: (wid: string, id: string) => api.get<Campaign>(`${ws(wid)}/campaigns/${enc(id)}`),
  createCampaign: (wid: string, c: CampaignInput) => api.post<Campaign>(`${ws(wid)}/campaigns`, c),
  updateCampaign: (wid: string, id: string, c: Partial<CampaignInput>) => api.patch<Campaign>(`${ws(wid)}/campaigns/${enc(id)}`, c),
  deleteCampaign: (wid: string, id: string) => api.del(`${ws(wid)}/campaigns/${enc(id)}`),
  moveCampaign: (wid: string, id: string, action: LifecycleAction) => api.post<Campaign>(`${ws(wid)}/campaigns/${enc(id)}/${action}`),
  preview: (wid: string, id: string, q: { cursor?: string | null; limit?: number; verdict?: string }) =>
    api.get<Preview>(`${ws(wid)}/campaigns/${enc(id)}/preview${query(q)}`),

  crusades: (wid: string) => api.get<{ items: Crusade[] }>(`${ws(wid)}/crusades`),
  crusade: (wid: string, id: string) => api.get<Crusade>(`${ws(wid)}/crusades/${enc(id)}`),
  createCrusade: (wid: string, c: CrusadeInput) => api.post<Crusade>(`${ws(wid)}/crusades`, c),
  updateCrusade: (wid: string, id: string, c: Partial<CrusadeInput>) => api.patch<Crusade>(`${ws(wid)}/crusades/${enc(id)}`, c),
  deleteCrusade: (wid: string, id: string) => api.del(`${ws(wid)}/crusades/${enc(id)}`),
  moveCrusade: (wid: string, id: string, action: LifecycleAction) => api.post<Crusade>(`${ws(wid)}/crusades/${enc(id)}/${action}`),

  optOuts: (wid: string, q: { q?: string; needs_review?: boolean; cursor?: string | null }) =>
    api.get<Page<OptOut>>(`${ws(wid)}/opt-outs${query(q)}`),
  optOut: (wid: string, phone: string) => api.get<OptOutDetail>(`${ws(wid)}/opt-outs/${enc(phone)}`),
  addOptOut: (wid: string, phone: string, note?: string) => api.post<OptOut>(`${ws(wid)}/opt-outs`, { phone, note: note || undefined }),
  reviewOptOut: (wid: string, phone: string, note?: string) =>
    api.post<OptOut>(`${ws(wid)}/opt-outs/${enc(phone)}/review`, note ? { note } : {}),
  removeOptOut: (wid: string, phone: string) => api.del(`${ws(wid)}/opt-outs/${enc(phone)}`),
  importOptOuts: (wid: string, csv: string) => api.postText<SuppressionReport>(`${ws(wid)}/opt-outs/import`, csv, 'text/csv'),

  dnc: (wid: string, cursor?: string | null) => api.get<Page<DncEntry>>(`${ws(wid)}/dnc${query({ cursor })}`),
  addDnc: (wid: string, entry: { phone?: string; from?: string; to?: string; reason?: string }) => api.post<DncEntry>(`${ws(wid)}/dnc`, entry),
  deleteDnc: (wid: string, id: string) => api.del(`${ws(wid)}/dnc/${enc(id)}`),
  importDnc: (wid: string, csv: string) => api.postText<SuppressionReport>(`${ws(wid)}/dnc/import`, csv, 'text/csv'),

  undeliverable: (wid: string, cursor?: string | null) => api.get<Page<Undeliverable>>(`${ws(wid)}/undeliverable${query({ cursor })}`),
};
