// Passkey ceremonies: the server speaks webauthn-rs JSON (binary fields as base64url strings),
// the browser speaks ArrayBuffers. These helpers convert both ways around navigator.credentials.

import { api, type Passkey, type Session } from './api';

export function b64urlToBuffer(s: string): ArrayBuffer {
  const pad = '='.repeat((4 - (s.length % 4)) % 4);
  const bin = atob((s + pad).replace(/-/g, '+').replace(/_/g, '/'));
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return bytes.buffer;
}

export function bufferToB64url(buf: ArrayBuffer | null): string | null {
  if (!buf) return null;
  const bytes = new Uint8Array(buf);
  let bin = '';
  for (let i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

function toBuf(v: Json): Json {
  return typeof v === 'string' ? b64urlToBuffer(v) : v;
}

function credentialDescriptors(list: Json): Json {
  if (!Array.isArray(list)) return list;
  return list.map((c: Json) => ({ ...c, id: toBuf(c.id) }));
}

function creationOptions(options: Json): CredentialCreationOptions {
  const pk = { ...options.publicKey };
  pk.challenge = toBuf(pk.challenge);
  pk.user = { ...pk.user, id: toBuf(pk.user.id) };
  if (pk.excludeCredentials) pk.excludeCredentials = credentialDescriptors(pk.excludeCredentials);
  return { publicKey: pk };
}

function requestOptions(options: Json): CredentialRequestOptions {
  const pk = { ...options.publicKey };
  pk.challenge = toBuf(pk.challenge);
  if (pk.allowCredentials) pk.allowCredentials = credentialDescriptors(pk.allowCredentials);
  const out: CredentialRequestOptions = { publicKey: pk };
  if (typeof options.mediation === 'string') out.mediation = options.mediation;
  return out;
}

export function passkeysSupported(): boolean {
  return typeof window !== 'undefined' && !!window.PublicKeyCredential && !!navigator.credentials;
}

function friendly(e: unknown): Error {
  if (e instanceof DOMException) {
    if (e.name === 'NotAllowedError') return new Error('The passkey request was canceled or timed out.');
    if (e.name === 'InvalidStateError') return new Error('This device already holds a passkey for your account.');
    return new Error(`Passkey error: ${e.message || e.name}`);
  }
  return e instanceof Error ? e : new Error(String(e));
}

/** Create a passkey on this device and store it on the server under `name`. */
export async function registerPasskey(name: string): Promise<Passkey> {
  if (!passkeysSupported()) throw new Error('This browser does not support passkeys.');
  const start = await api.post<{ ceremony_id: string; options: Json }>('/api/auth/passkeys/register/start', { name });
  let cred: PublicKeyCredential;
  try {
    cred = (await navigator.credentials.create(creationOptions(start.options))) as PublicKeyCredential;
  } catch (e) {
    throw friendly(e);
  }
  if (!cred) throw new Error('No passkey was created.');
  const resp = cred.response as AuthenticatorAttestationResponse;
  const transports = typeof resp.getTransports === 'function' ? resp.getTransports() : undefined;
  const credential = {
    id: cred.id,
    rawId: bufferToB64url(cred.rawId),
    type: cred.type,
    response: {
      attestationObject: bufferToB64url(resp.attestationObject),
      clientDataJSON: bufferToB64url(resp.clientDataJSON),
      ...(transports ? { transports } : {}),
    },
    extensions: {},
  };
  return api.post<Passkey>('/api/auth/passkeys/register/finish', { ceremony_id: start.ceremony_id, credential });
}

/** Sign in as `email` with a passkey held by this device. */
export async function signInWithPasskey(email: string): Promise<Session> {
  if (!passkeysSupported()) throw new Error('This browser does not support passkeys.');
  const start = await api.post<{ ceremony_id: string; options: Json }>('/api/auth/passkeys/login/start', { email });
  let cred: PublicKeyCredential;
  try {
    cred = (await navigator.credentials.get(requestOptions(start.options))) as PublicKeyCredential;
  } catch (e) {
    throw friendly(e);
  }
  if (!cred) throw new Error('No passkey was chosen.');
  const resp = cred.response as AuthenticatorAssertionResponse;
  const credential = {
    id: cred.id,
    rawId: bufferToB64url(cred.rawId),
    type: cred.type,
    response: {
      authenticatorData: bufferToB64url(resp.authenticatorData),
      clientDataJSON: bufferToB64url(resp.clientDataJSON),
      signature: bufferToB64url(resp.signature),
      userHandle: bufferToB64url(resp.userHandle),
    },
    extensions: {},
  };
  return api.post<Session>('/api/auth/passkeys/login/finish', { ceremony_id: start.ceremony_id, credential });
}
