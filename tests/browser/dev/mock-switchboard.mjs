#!/usr/bin/env node
// A stand-in for the `switchboard` binary, for developing the console and the harness before
// (or without) the Rust server: `seed --demo` does nothing, `serve` answers the documented JSON
// API from memory and serves web/dist with SPA fallback. It does NOT verify WebAuthn signatures.
// Use: SWITCHBOARD_BIN=tests/browser/dev/mock-switchboard.mjs node run.mjs

import { createServer } from 'node:http';
import { randomBytes, randomUUID } from 'node:crypto';
import { readFileSync, existsSync, statSync } from 'node:fs';
import path from 'node:path';

const cmd = process.argv[2];
if (cmd === 'seed' || cmd === 'migrate') process.exit(0);
if (cmd !== 'serve') {
  console.error('usage: mock-switchboard serve|seed');
  process.exit(2);
}

const [host, port] = (process.env.BIND ?? '127.0.0.1:8080').split(':');
const webDir = process.env.SWITCHBOARD_WEB_DIR ?? path.resolve('web/dist');
const publicUrl = new URL(process.env.PUBLIC_URL ?? `http://${host}:${port}`);
const b64u = (buf) => Buffer.from(buf).toString('base64url');

const ws = {
  demo: { id: randomUUID(), slug: 'demo', name: 'Demo Realty' },
  acme: { id: randomUUID(), slug: 'acme', name: 'Acme Insurance' },
};
const users = new Map(); // email -> user
function addUser(email, name, superAdmin = false) {
  const u = { id: randomUUID(), email, name, is_super_admin: superAdmin, password: 'switchboard-demo', passkeys: [] };
  users.set(email, u);
  return u;
}
const members = []; // {workspace_id, user_id, role, joined_at}
function join(u, w, role) {
  members.push({ workspace_id: w.id, user_id: u.id, role, joined_at: new Date().toISOString() });
}
join(addUser('owner@demo.test', 'Olivia Owner'), ws.demo, 'owner');
join(users.get('owner@demo.test'), ws.acme, 'admin');
for (const r of ['admin', 'manager', 'agent', 'viewer']) join(addUser(`${r}@demo.test`, `${r[0].toUpperCase()}${r.slice(1)} Demo`), ws.demo, r);
join(addUser('super@demo.test', 'Sam Super', true), ws.acme, 'owner');

const sessions = new Map(); // sid -> {user_id, csrf}
const audit = [];
const tokens = [];
const ceremonies = new Map();
let auditSeq = 0;
const failures = new Map();

const byId = (id) => [...users.values()].find((u) => u.id === id);
const wsById = (id) => Object.values(ws).find((w) => w.id === id);
function sessionJson(s) {
  const u = byId(s.user_id);
  return {
    user: { id: u.id, email: u.email, name: u.name, is_super_admin: u.is_super_admin },
    csrf_token: s.csrf,
    memberships: members
      .filter((m) => m.user_id === u.id)
      .map((m) => ({ workspace_id: m.workspace_id, slug: wsById(m.workspace_id).slug, name: wsById(m.workspace_id).name, role: m.role })),
  };
}
function memberJson(m) {
  const u = byId(m.user_id);
  return { user_id: u.id, email: u.email, name: u.name, role: m.role, joined_at: m.joined_at };
}

function send(res, status, body, headers = {}) {
  if (body === undefined) {
    res.writeHead(status, headers);
    return res.end();
  }
  res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}
const err = (res, status, code, message, extra = {}) => send(res, status, { code, message, ...extra.body }, extra.headers);

function newSession(res, user) {
  const sid = b64u(randomBytes(24));
  const s = { user_id: user.id, csrf: b64u(randomBytes(16)) };
  sessions.set(sid, s);
  res.setHeader('Set-Cookie', `sb_session=${sid}; Path=/; HttpOnly; SameSite=Lax`);
  return s;
}
function currentSession(req) {
  const m = /(?:^|;\s*)sb_session=([^;]+)/.exec(req.headers.cookie ?? '');
  return m ? sessions.get(m[1]) && { sid: m[1], ...sessions.get(m[1]) } : null;
}
function record(wid, actor, action, target_type, target_id, before, after, outcome, req) {
  audit.unshift({ id: ++auditSeq, workspace_id: wid, at: new Date().toISOString(), actor_id: actor.id, actor_email: actor.email, action, target_type, target_id, before, after, outcome, ip: req.socket.remoteAddress, request_id: randomUUID() });
}

async function body(req) {
  let data = '';
  for await (const c of req) data += c;
  return data ? JSON.parse(data) : {};
}

function serveStatic(req, res, pathname) {
  let file = path.join(webDir, decodeURIComponent(pathname));
  if (!file.startsWith(webDir) || !existsSync(file) || statSync(file).isDirectory()) file = path.join(webDir, 'index.html');
  if (!existsSync(file)) return send(res, 404, { code: 'not_found', message: 'web/dist is missing' });
  const types = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml', '.map': 'application/json' };
  res.writeHead(200, { 'Content-Type': types[path.extname(file)] ?? 'application/octet-stream' });
  res.end(readFileSync(file));
}

async function handle(req, res) {
  const url = new URL(req.url, 'http://x');
  const p = url.pathname;
  const method = req.method;
  if (p === '/readyz' || p === '/healthz') return send(res, 200, { status: 'ok' });
  if (!p.startsWith('/api/')) return serveStatic(req, res, p);

  if (p === '/api/auth/login' && method === 'POST') {
    const { email, password } = await body(req);
    const n = failures.get(email) ?? 0;
    if (n >= 5) return err(res, 429, 'rate_limited', 'Too many attempts', { headers: { 'Retry-After': '30' } });
    const u = users.get(email);
    if (!u || u.password !== password) {
      failures.set(email, n + 1);
      return err(res, 401, 'invalid_credentials', 'Wrong email or password');
    }
    return send(res, 200, sessionJson(newSession(res, u)));
  }
  if (p === '/api/auth/recovery' && method === 'POST') return send(res, 202, {});
  if (p === '/api/auth/passkeys/login/start' && method === 'POST') {
    const { email } = await body(req);
    const u = users.get(email);
    const challenge = b64u(randomBytes(32));
    const ceremony_id = randomUUID();
    ceremonies.set(ceremony_id, { user: u });
    return send(res, 200, {
      ceremony_id,
      options: { publicKey: { challenge, timeout: 60000, rpId: publicUrl.hostname, allowCredentials: (u?.passkeys ?? []).map((k) => ({ type: 'public-key', id: k.rawId })), userVerification: 'required' }, mediation: null },
    });
  }
  if (p === '/api/auth/passkeys/login/finish' && method === 'POST') {
    const { ceremony_id, credential } = await body(req);
    const c = ceremonies.get(ceremony_id);
    ceremonies.delete(ceremony_id);
    const key = c?.user?.passkeys.find((k) => k.rawId === credential?.rawId);
    if (!key || !credential.response?.signature) return err(res, 401, 'invalid_credentials', 'Passkey not accepted');
    key.last_used_at = new Date().toISOString();
    return send(res, 200, sessionJson(newSession(res, c.user)));
  }

  const s = currentSession(req);
  if (!s) return err(res, 401, 'unauthenticated', 'Sign in first');
  const me = byId(s.user_id);
  if (method !== 'GET' && req.headers['x-csrf-token'] !== s.csrf) return err(res, 403, 'csrf', 'Missing or wrong CSRF token');

  if (p === '/api/auth/session') return send(res, 200, sessionJson(s));
  if (p === '/api/auth/logout' && method === 'POST') {
    sessions.delete(s.sid);
    return send(res, 204);
  }
  if (p === '/api/auth/logout-all' && method === 'POST') {
    for (const [k, v] of sessions) if (v.user_id === me.id) sessions.delete(k);
    return send(res, 204);
  }
  if (p === '/api/auth/passkeys' && method === 'GET') return send(res, 200, me.passkeys.map(({ rawId: _r, ...k }) => k));
  if (p === '/api/auth/passkeys/register/start' && method === 'POST') {
    const { name } = await body(req);
    const ceremony_id = randomUUID();
    ceremonies.set(ceremony_id, { name });
    return send(res, 200, {
      ceremony_id,
      options: {
        publicKey: {
          rp: { name: 'Switchboard', id: publicUrl.hostname },
          user: { id: b64u(Buffer.from(me.id)), name: me.email, displayName: me.name },
          challenge: b64u(randomBytes(32)),
          pubKeyCredParams: [{ type: 'public-key', alg: -7 }, { type: 'public-key', alg: -257 }],
          timeout: 60000,
          excludeCredentials: me.passkeys.map((k) => ({ type: 'public-key', id: k.rawId })),
          authenticatorSelection: { residentKey: 'discouraged', requireResidentKey: false, userVerification: 'required' },
          attestation: 'none',
          extensions: { credentialProtectionPolicy: 'userVerificationRequired', enforceCredentialProtectionPolicy: false, uvm: true, credProps: true },
        },
      },
    });
  }
  if (p === '/api/auth/passkeys/register/finish' && method === 'POST') {
    const { ceremony_id, credential } = await body(req);
    const c = ceremonies.get(ceremony_id);
    if (!c || !credential?.response?.attestationObject) return err(res, 400, 'validation_failed', 'Bad ceremony');
    const k = { id: randomUUID(), name: c.name, created_at: new Date().toISOString(), last_used_at: null, rawId: credential.rawId };
    me.passkeys.push(k);
    const { rawId: _r, ...out } = k;
    return send(res, 201, out);
  }
  let m;
  if ((m = /^\/api\/auth\/passkeys\/([^/]+)$/.exec(p)) && method === 'DELETE') {
    me.passkeys = me.passkeys.filter((k) => k.id !== m[1]);
    return send(res, 204);
  }
  if (p === '/api/workspaces') return send(res, 200, sessionJson(s).memberships.map((x) => ({ id: x.workspace_id, slug: x.slug, name: x.name, role: x.role })));

  if ((m = /^\/api\/workspaces\/([^/]+)\/(members|audit|tokens)(?:\/([^/]+))?$/.exec(p))) {
    const [, wid, kind, sub] = m;
    const mine = members.find((x) => x.workspace_id === wid && x.user_id === me.id);
    if (!mine) return err(res, 404, 'not_found', 'No such workspace');
    const isAdmin = mine.role === 'owner' || mine.role === 'admin';
    if (kind === 'members') {
      if (!sub && method === 'GET') return send(res, 200, members.filter((x) => x.workspace_id === wid).map(memberJson));
      if (!isAdmin) {
        record(wid, me, 'member.change', 'member', sub ?? null, null, null, 'denied', req);
        return err(res, 403, 'forbidden', 'Your role may not change members');
      }
      if (!sub && method === 'POST') {
        const b = await body(req);
        if (b.role === 'owner' && mine.role !== 'owner') return err(res, 403, 'forbidden', 'Only owners may add owners');
        let u = users.get(b.email);
        let invite_url = null;
        if (!u) {
          u = addUser(b.email, b.name ?? '');
          invite_url = `${publicUrl.origin}/recover?token=${b64u(randomBytes(16))}`;
        }
        if (members.some((x) => x.workspace_id === wid && x.user_id === u.id)) return err(res, 409, 'conflict', 'Already a member');
        const mm = { workspace_id: wid, user_id: u.id, role: b.role, joined_at: new Date().toISOString() };
        members.push(mm);
        record(wid, me, 'member.added', 'member', u.id, null, { role: b.role }, 'ok', req);
        return send(res, 201, { member: memberJson(mm), invite_url });
      }
      const target = members.find((x) => x.workspace_id === wid && x.user_id === sub);
      if (!target) return err(res, 404, 'not_found', 'No such member');
      if ((target.role === 'owner' || (method === 'PATCH' && (await peekRole(req, target))) === 'owner') && mine.role !== 'owner') {
        return err(res, 403, 'forbidden', 'Only owners may change owners');
      }
      const owners = members.filter((x) => x.workspace_id === wid && x.role === 'owner').length;
      if (method === 'PATCH') {
        const role = target.newRole;
        if (target.role === 'owner' && role !== 'owner' && owners === 1) return err(res, 409, 'last_owner', 'A workspace needs at least one owner');
        const before = target.role;
        target.role = role;
        record(wid, me, 'member.role_changed', 'member', sub, { role: before }, { role }, 'ok', req);
        return send(res, 200, memberJson(target));
      }
      if (method === 'DELETE') {
        if (target.role === 'owner' && owners === 1) return err(res, 409, 'last_owner', 'A workspace needs at least one owner');
        members.splice(members.indexOf(target), 1);
        record(wid, me, 'member.removed', 'member', sub, { role: target.role }, null, 'ok', req);
        return send(res, 204);
      }
    }
    if (kind === 'audit') {
      if (!isAdmin) return err(res, 403, 'forbidden', 'Only owners and admins may read the audit log');
      const q = url.searchParams;
      const limit = Number(q.get('limit') ?? 50);
      let list = audit.filter((e) => e.workspace_id === wid);
      if (q.get('action')) list = list.filter((e) => e.action.includes(q.get('action')));
      if (q.get('target_type')) list = list.filter((e) => e.target_type === q.get('target_type'));
      if (q.get('outcome')) list = list.filter((e) => e.outcome === q.get('outcome'));
      if (q.get('before')) list = list.filter((e) => e.id < Number(q.get('before')));
      const page = list.slice(0, limit);
      return send(res, 200, { entries: page.map(({ workspace_id: _w, ...e }) => e), next_before: list.length > limit ? page[page.length - 1].id : null });
    }
    if (kind === 'tokens') {
      if (!sub && method === 'GET') return send(res, 200, tokens.filter((t) => t.workspace_id === wid).map(({ workspace_id: _w, ...t }) => t));
      if (!isAdmin) return err(res, 403, 'forbidden', 'Only owners and admins manage tokens');
      if (!sub && method === 'POST') {
        const { name } = await body(req);
        const token = `sbt_${b64u(randomBytes(24))}`;
        const t = { id: randomUUID(), workspace_id: wid, name, prefix: token.slice(0, 10), created_at: new Date().toISOString(), last_used_at: null, revoked_at: null };
        tokens.push(t);
        return send(res, 201, { id: t.id, name, token });
      }
      if (sub && method === 'DELETE') {
        const t = tokens.find((x) => x.id === sub && x.workspace_id === wid);
        if (t) t.revoked_at = new Date().toISOString();
        return send(res, 204);
      }
    }
  }
  return err(res, 404, 'not_found', `No route ${method} ${p}`);
}

async function peekRole(req, target) {
  const b = await body(req);
  target.newRole = b.role;
  return b.role;
}

createServer((req, res) => {
  handle(req, res).catch((e) => {
    console.error(e);
    send(res, 500, { code: 'internal', message: String(e) });
  });
}).listen(Number(port), host, () => console.error(`mock switchboard listening on ${host}:${port}`));
process.on('SIGTERM', () => process.exit(0));
