// Sign-in: the OAuth 2.0 authorization-code flow with PKCE (S256) against the stage's user pool,
// whose endpoints /auth.json names (Cognito's hosted UI on AWS; the local server's stand-in on
// `local`). No password passes through this code, and there is no implicit flow.
//
// Where the tokens live: the access and id tokens only in this module's memory; the refresh
// token in sessionStorage (this tab only, gone when it closes), so a reload stays signed in. A
// static site has no HttpOnly cookie of its own to hide a token in, so a script running in the
// page could read sessionStorage; what keeps such a script out is the CSP (script-src 'self', no
// inline script) and a page that writes every user-supplied text with textContent. Access tokens
// live 15 minutes and refresh tokens 12 hours (infra/template.yaml UserPoolClient).

const REFRESH = "thumbstack.refresh";
const PENDING = "thumbstack.pkce";
// Renew this long before the access token expires.
const EARLY_MS = 60_000;

let config = null;
let configured = null; // the /auth.json request start() makes; a click before it answers waits for it
let session = null; // { access, id, expiresAt, refresh }
let timer = null;
const listeners = [];

const b64url = (bytes) => btoa(String.fromCharCode(...new Uint8Array(bytes))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
const random = (n) => b64url(crypto.getRandomValues(new Uint8Array(n)));
const redirectUri = () => `${location.origin}/`;
const claims = (jwt) => JSON.parse(atob(jwt.split(".")[1].replace(/-/g, "+").replace(/_/g, "/")));

function changed() {
  for (const f of listeners) f(user());
}

async function tokenRequest(fields) {
  const response = await fetch(`${config.authority}/oauth2/token`, {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ client_id: config.client_id, ...fields }),
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(data.error_description || data.error || `sign-in failed (HTTP ${response.status})`);
  return data;
}

function keep(tokens) {
  const refresh = tokens.refresh_token || session?.refresh;
  session = { access: tokens.access_token, id: tokens.id_token, expiresAt: Date.now() + tokens.expires_in * 1000, refresh };
  if (refresh) sessionStorage.setItem(REFRESH, refresh);
  clearTimeout(timer);
  timer = setTimeout(() => renew().catch(() => forget()), Math.max(0, session.expiresAt - Date.now() - EARLY_MS));
  changed();
}

function forget() {
  session = null;
  clearTimeout(timer);
  sessionStorage.removeItem(REFRESH);
  changed();
}

async function renew() {
  const refresh = session?.refresh || sessionStorage.getItem(REFRESH);
  if (!refresh) throw new Error("not signed in");
  keep(await tokenRequest({ grant_type: "refresh_token", refresh_token: refresh }));
}

// Reads /auth.json, finishes a sign-in the pool redirected back with, or resumes this tab's session.
export async function start() {
  configured = fetch("/auth.json").then((r) => r.json());
  config = await configured;
  const params = new URLSearchParams(location.search);
  if (params.has("code") || params.has("error")) {
    const pending = JSON.parse(sessionStorage.getItem(PENDING) || "null");
    sessionStorage.removeItem(PENDING);
    history.replaceState(null, "", `/${pending?.hash || ""}`);
    if (params.has("error")) throw new Error(params.get("error_description") || params.get("error"));
    if (!pending || pending.state !== params.get("state")) throw new Error("the sign-in answer does not match this tab's request; sign in again");
    keep(await tokenRequest({ grant_type: "authorization_code", code: params.get("code"), redirect_uri: redirectUri(), code_verifier: pending.verifier }));
  } else if (sessionStorage.getItem(REFRESH)) {
    await renew().catch(forget);
  }
}

export async function signIn() {
  config ??= await configured;
  const verifier = random(48);
  const challenge = b64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
  const state = random(16);
  const hash = location.hash === "#sign-in" ? "" : location.hash;
  sessionStorage.setItem(PENDING, JSON.stringify({ verifier, state, hash }));
  const query = new URLSearchParams({
    response_type: "code", client_id: config.client_id, redirect_uri: redirectUri(), scope: "openid email",
    state, code_challenge: challenge, code_challenge_method: "S256",
  });
  location.assign(`${config.authority}/oauth2/authorize?${query}`);
}

export async function signOut() {
  config ??= await configured;
  forget();
  location.assign(`${config.authority}/logout?${new URLSearchParams({ client_id: config.client_id, logout_uri: redirectUri() })}`);
}

// The access token, renewed first when it is about to expire; null when signed out.
export async function accessToken() {
  if (!session) return null;
  if (Date.now() > session.expiresAt - EARLY_MS) await renew().catch(forget);
  return session?.access ?? null;
}

// Who is signed in ({ email }), or null.
export function user() {
  return session ? { email: claims(session.id).email } : null;
}

export function onChange(f) {
  listeners.push(f);
}
