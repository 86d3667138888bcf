// The console's only way to talk to the server: JSON over fetch with the session cookie,
// a CSRF header on every state-changing request, and errors turned into ApiError.

export type Role = 'owner' | 'admin' | 'manager' | 'agent' | 'viewer';
export const ROLES: Role[] = ['owner', 'admin', 'manager', 'agent', 'viewer'];

export interface User {
  id: string;
  email: string;
  name: string;
  is_super_admin: boolean;
}

export interface Membership {
  workspace_id: string;
  slug: string;
  name: string;
  role: Role;
}

export interface Session {
  user: User;
  csrf_token: string;
  memberships: Membership[];
}

export interface Member {
  user_id: string;
  email: string;
  name: string;
  role: Role;
  joined_at: string;
}

export interface AuditEntry {
  id: number;
  at: string;
  actor_id: string | null;
  actor_email: string | null;
  action: string;
  target_type: string | null;
  target_id: string | null;
  before: unknown;
  after: unknown;
  outcome: string;
  ip: string | null;
  request_id: string | null;
}

export interface AuditPage {
  entries: AuditEntry[];
  next_before: number | null;
}

export interface ApiToken {
  id: string;
  name: string;
  prefix: string;
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
}

export interface Passkey {
  id: string;
  name: string;
  created_at: string;
  last_used_at: string | null;
}

export type AccountStatus = 'active' | 'paused' | 'failing';
export type NumberStatus = 'active' | 'paused';
export type NumberHealth = 'good' | 'warning' | 'blocked';

/** A Twilio account. The auth token is never returned: only whether it is set and its last 4. */
export interface CarrierAccount {
  id: string;
  name: string;
  account_sid: string;
  auth_token_set: boolean;
  auth_token_last4: string;
  api_key_sid: string | null;
  api_key_secret_set: boolean;
  base_url: string;
  daily_cap: number | null;
  mps_cap: number | null;
  status: AccountStatus;
  number_count: number;
  created_at: string;
  updated_at: string;
}

export interface NewCarrierAccount {
  name: string;
  account_sid: string;
  auth_token: string;
  base_url?: string;
  daily_cap?: number | null;
  mps_cap?: number | null;
}

export interface CarrierAccountChange {
  name?: string;
  auth_token?: string;
  base_url?: string;
  daily_cap?: number | null;
  mps_cap?: number | null;
  status?: AccountStatus;
}

export interface WarmupStep {
  day: number;
  daily_cap: number;
}

export interface PhoneNumber {
  id: string;
  e164: string;
  account_id: string;
  account_sid: string;
  sms: boolean;
  mms: boolean;
  area_code: string | null;
  state: string | null;
  campaign_10dlc: string | null;
  mps: number;
  daily_cap: number | null;
  warmup: WarmupStep[] | null;
  warmup_started_on: string | null;
  effective_daily_cap: number | null;
  health: NumberHealth;
  status: NumberStatus;
  created_at: string;
  updated_at: string;
}

export interface NumberPage {
  numbers: PhoneNumber[];
  next_after: string | null;
}

export interface NumberFilter {
  account_id?: string;
  area_code?: string;
  state?: string;
  status?: string;
  after?: string | null;
}

export interface NewPhoneNumber {
  e164: string;
  account_id: string;
  sms?: boolean;
  mms?: boolean;
  campaign_10dlc?: string;
  mps?: number;
  daily_cap?: number | null;
}

export interface ImportRowResult {
  row: number;
  status: 'created' | 'updated' | 'rejected';
  reason?: string;
  field?: string;
  e164?: string;
  number_id?: string;
}

export interface ImportReport {
  rows: ImportRowResult[];
  created: number;
  updated: number;
  rejected: number;
  ignored_columns: string[];
}

/** An error answer from the server (or the network), with the server's message. */
export class ApiError extends Error {
  status: number;
  code: string;
  field?: string;
  retryAfter?: number;

  constructor(status: number, code: string, message: string, field?: string, retryAfter?: number) {
    super(message);
    this.status = status;
    this.code = code;
    this.field = field;
    this.retryAfter = retryAfter;
  }
}

let csrfToken: string | null = null;
let onUnauthorized: (() => void) | null = null;

/** Remember the CSRF token of the current session (null when signed out). */
export function setCsrfToken(token: string | null) {
  csrfToken = token;
}

/** Called when an authenticated request answers 401: the session has ended. */
export function setUnauthorizedHandler(handler: (() => void) | null) {
  onUnauthorized = handler;
}

// Requests whose 401 means "wrong credentials", not "your session ended".
const CREDENTIAL_PATHS = ['/api/auth/login', '/api/auth/passkeys/login/', '/api/auth/recovery'];

async function request<T>(method: string, path: string, body?: unknown, contentType?: string): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = contentType ?? 'application/json';
  if (method !== 'GET' && method !== 'HEAD' && csrfToken) headers['X-CSRF-Token'] = csrfToken;

  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers,
      credentials: 'same-origin',
      body: body === undefined ? undefined : contentType ? String(body) : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, 'network', 'Cannot reach the server. Check your connection and try again.');
  }

  if (res.ok) {
    if (res.status === 204) return undefined as T;
    const text = await res.text();
    return (text ? JSON.parse(text) : undefined) as T;
  }

  let code = 'http_' + res.status;
  let message = res.statusText || `Request failed (${res.status})`;
  let field: string | undefined;
  try {
    const err = await res.json();
    if (err && typeof err === 'object') {
      if (typeof err.code === 'string') code = err.code;
      if (typeof err.message === 'string' && err.message) message = err.message;
      if (typeof err.field === 'string') field = err.field;
    }
  } catch {
    // Not JSON: keep the status text.
  }
  const ra = res.headers.get('Retry-After');
  const retryAfter = ra !== null && ra.trim() !== '' && !Number.isNaN(Number(ra)) ? Number(ra) : undefined;

  if (res.status === 401 && path !== '/api/auth/session' && !CREDENTIAL_PATHS.some((p) => path.startsWith(p))) {
    onUnauthorized?.();
  }
  throw new ApiError(res.status, code, message, field, retryAfter);
}

export const api = {
  get: <T>(path: string) => request<T>('GET', path),
  post: <T>(path: string, body?: unknown) => request<T>('POST', path, body ?? {}),
  put: <T>(path: string, body?: unknown) => request<T>('PUT', path, body ?? {}),
  patch: <T>(path: string, body?: unknown) => request<T>('PATCH', path, body ?? {}),
  del: <T = void>(path: string) => request<T>('DELETE', path),
  /** POST a text body (e.g. a CSV file) with its own content type. */
  postText: <T>(path: string, text: string, contentType: string) => request<T>('POST', path, text, contentType),
};

const ws = (workspaceId: string) => `/api/workspaces/${encodeURIComponent(workspaceId)}`;

/** The endpoints the console uses, by name. */
export const endpoints = {
  session: () => api.get<Session>('/api/auth/session'),
  login: (email: string, password: string) => api.post<Session>('/api/auth/login', { email, password }),
  logout: () => api.post<void>('/api/auth/logout'),
  logoutAll: () => api.post<void>('/api/auth/logout-all'),
  startRecovery: (email: string) => api.post<void>('/api/auth/recovery', { email }),
  completeRecovery: (token: string, password: string) =>
    api.post<Session>('/api/auth/recovery/complete', { token, password }),

  listPasskeys: () => api.get<Passkey[]>('/api/auth/passkeys'),
  deletePasskey: (id: string) => api.del(`/api/auth/passkeys/${encodeURIComponent(id)}`),

  members: (wid: string) => api.get<Member[]>(`${ws(wid)}/members`),
  addMember: (wid: string, m: { email: string; name?: string; role: Role }) =>
    api.post<{ member: Member; invite_url: string | null }>(`${ws(wid)}/members`, m),
  setRole: (wid: string, userId: string, role: Role) =>
    api.patch<Member>(`${ws(wid)}/members/${encodeURIComponent(userId)}`, { role }),
  removeMember: (wid: string, userId: string) => api.del(`${ws(wid)}/members/${encodeURIComponent(userId)}`),

  audit: (wid: string, q: { action?: string; target_type?: string; outcome?: string; before?: number | null }) => {
    const p = new URLSearchParams();
    if (q.action) p.set('action', q.action);
    if (q.target_type) p.set('target_type', q.target_type);
    if (q.outcome) p.set('outcome', q.outcome);
    if (q.before != null) p.set('before', String(q.before));
    p.set('limit', '50');
    return api.get<AuditPage>(`${ws(wid)}/audit?${p.toString()}`);
  },

  tokens: (wid: string) => api.get<ApiToken[]>(`${ws(wid)}/tokens`),
  createToken: (wid: string, name: string) =>
    api.post<{ id: string; name: string; token: string }>(`${ws(wid)}/tokens`, { name }),
  revokeToken: (wid: string, id: string) => api.del(`${ws(wid)}/tokens/${encodeURIComponent(id)}`),

  accounts: (wid: string) => api.get<CarrierAccount[]>(`${ws(wid)}/accounts`),
  createAccount: (wid: string, a: NewCarrierAccount) => api.post<CarrierAccount>(`${ws(wid)}/accounts`, a),
  updateAccount: (wid: string, id: string, change: CarrierAccountChange) =>
    api.patch<CarrierAccount>(`${ws(wid)}/accounts/${encodeURIComponent(id)}`, change),
  deleteAccount: (wid: string, id: string) => api.del(`${ws(wid)}/accounts/${encodeURIComponent(id)}`),

  numbers: (wid: string, f: NumberFilter) => {
    const p = new URLSearchParams();
    for (const key of ['account_id', 'area_code', 'state', 'status'] as const) {
      const v = f[key];
      if (v) p.set(key, v);
    }
    if (f.after) p.set('after', f.after);
    p.set('limit', '100');
    return api.get<NumberPage>(`${ws(wid)}/numbers?${p.toString()}`);
  },
  createNumber: (wid: string, n: NewPhoneNumber) => api.post<PhoneNumber>(`${ws(wid)}/numbers`, n),
  updateNumber: (wid: string, id: string, change: { status?: NumberStatus }) =>
    api.patch<PhoneNumber>(`${ws(wid)}/numbers/${encodeURIComponent(id)}`, change),
  deleteNumber: (wid: string, id: string) => api.del(`${ws(wid)}/numbers/${encodeURIComponent(id)}`),
  importNumbers: (wid: string, csv: string) => api.postText<ImportReport>(`${ws(wid)}/numbers/import`, csv, 'text/csv'),
};

/** A user-facing message for any thrown value. */
export function errorMessage(e: unknown): string {
  if (e instanceof ApiError) return e.message;
  if (e instanceof Error) return e.message;
  return String(e);
}
