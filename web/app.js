// The dev console. Everything that came from a server or the URL is put on
// the page with textContent: an error_description is text, never markup.
import { load } from './dualauth.js';

// dualauth.js has already removed code and state from the address bar (S28);
// this is the first URL any page script sees (tests read it).
window.consoleFirstURL = window.location.href;

const SETTINGS_KEY = 'dualauth.console.settings';
const MODE_KEY = 'dualauth.console.mode';
const $ = (id) => document.getElementById(id);
const text = (id, s) => {
  $(id).textContent = s;
};

let auth = null;
let expiry = null;

function settings() {
  return {
    host: $('host').value.trim(),
    clientId: $('client-id').value.trim() || undefined, // none: the core registers one, or finds the stored one
    accountId: $('account-id').value.trim() || undefined,
    scopes: $('scopes').value.trim(),
    dpop: $('dpop').value,
  };
}

function fillSettings() {
  const q = new URL(window.location.href).searchParams;
  let saved = {};
  try {
    saved = JSON.parse(localStorage.getItem(SETTINGS_KEY) || '{}');
  } catch {
    saved = {};
  }
  $('host').value = q.get('host') ?? saved.host ?? '';
  $('client-id').value = q.get('client_id') ?? saved.clientId ?? '';
  $('account-id').value = q.get('account_id') ?? saved.accountId ?? '';
  // Empty means the host's default scopes, chosen by dualauth (see the
  // field's placeholder); the console does not guess them here.
  $('scopes').value = q.get('scopes') ?? saved.scopes ?? '';
  $('dpop').value = ['auto', 'always', 'never'].includes(q.get('dpop')) ? q.get('dpop') : 'auto';
  text('redirect-uri', window.location.origin + window.location.pathname);
}

function saveSettings(s) {
  localStorage.setItem(SETTINGS_KEY, JSON.stringify(s));
}

function showError(err) {
  const box = $('error');
  box.hidden = false;
  box.dataset.code = err?.code ?? 'error';
  text('error-code', err?.code ?? 'error');
  text('error-message', err?.message ?? String(err));
  // The way out of a stored login that cannot be read: logout() removes it.
  $('remove-login').hidden = err?.code !== 'stored_login_unreadable';
}

function clearError() {
  $('error').hidden = true;
  delete $('error').dataset.code;
  text('error-code', '');
  text('error-message', '');
  $('remove-login').hidden = true;
}

function setStatus(state, label) {
  const s = $('status');
  s.dataset.state = state;
  s.textContent = label;
}

function logEvent(message) {
  const li = document.createElement('li');
  li.textContent = `${new Date().toLocaleTimeString()} ${message}`;
  $('events').prepend(li);
}

// decodeJWT returns a JWT's payload, or null when the token is opaque.
function decodeJWT(token) {
  const parts = String(token).split('.');
  if (parts.length !== 3) return null;
  try {
    const b64 = parts[1].replace(/-/g, '+').replace(/_/g, '/');
    const bin = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
    return JSON.parse(new TextDecoder().decode(Uint8Array.from(bin, (c) => c.charCodeAt(0))));
  } catch {
    return null;
  }
}

function formatClaims(claims) {
  if (!claims) return '—';
  const out = { ...claims };
  for (const k of ['exp', 'iat', 'nbf', 'auth_time']) {
    if (typeof out[k] === 'number') out[k] = `${out[k]} (${new Date(out[k] * 1000).toISOString()})`;
  }
  // JSON.stringify escapes C0 controls only: C1 controls, format
  // characters (bidi overrides, zero-width) and U+2028/2029 of an access
  // token's claims come out escaped here, as the ID token's do in the core
  // (S37). The newlines are JSON.stringify's own layout.
  return JSON.stringify(out, null, 2).replace(/(?!\n)[\p{Cc}\p{Cf}\u2028\u2029]/gu, (c) => {
    const n = c.codePointAt(0);
    return n > 0xffff ? `\\U${n.toString(16).padStart(8, '0')}` : `\\u${n.toString(16).padStart(4, '0')}`;
  });
}

function tick() {
  const el = $('expiry');
  el.classList.remove('expiring', 'expired');
  if (!expiry) {
    el.textContent = $('status').dataset.state === 'signed-in' ? 'no expiry given' : '—';
    return;
  }
  const secs = Math.round((expiry.getTime() - Date.now()) / 1000);
  const span = (s) => (s >= 3600 ? `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m` : s >= 60 ? `${Math.floor(s / 60)}m ${s % 60}s` : `${s}s`);
  if (secs > 0) {
    el.textContent = `in ${span(secs)} (${expiry.toLocaleTimeString()})`;
    if (secs < 60) el.classList.add('expiring');
  } else {
    el.textContent = `expired ${span(-secs)} ago — “Get token” refreshes it`;
    el.classList.add('expired');
  }
}

function clearToken() {
  text('token-out', '(press “Get token”)');
  text('access-claims', '—');
  $('copy-token').disabled = true;
}

async function refreshSession() {
  const { host, clientId, accountId } = settings();
  if (!host) {
    setStatus('signed-out', 'Not configured');
    return;
  }
  let s;
  try {
    s = await auth.session({ host, clientId, accountId });
  } catch (err) {
    const label = { load_failed: 'dualauth failed to load', stored_login_unreadable: 'Stored login unreadable' }[err?.code] ?? 'Error';
    setStatus('error', label);
    showError(err);
    return;
  }
  if (!s.signedIn) {
    setStatus('signed-out', 'Signed out');
    for (const id of ['signed-in-as', 'issuer', 'granted-scopes', 'refreshable']) text(id, '—');
    text('id-claims', '—');
    expiry = null;
    clearToken();
    tick();
    return;
  }
  setStatus('signed-in', 'Signed in');
  const c = s.claims ?? {};
  const who = c.email || c.preferred_username || c.name || c.sub;
  text('signed-in-as', who ? String(who) : '(no ID token)');
  text('issuer', s.issuer ?? '—');
  text('granted-scopes', s.scopes || '—');
  text('refreshable', s.refreshable ? 'yes' : 'no');
  text('id-claims', formatClaims(s.claims));
  expiry = s.expiry ? new Date(s.expiry) : null;
  tick();
}

async function getToken(forceRefresh) {
  clearError();
  const { host, clientId, accountId } = settings();
  try {
    const t = await auth.token({ host, clientId, accountId, forceRefresh });
    text('token-out', t.access_token);
    $('copy-token').disabled = false;
    text('access-claims', decodeJWT(t.access_token) ? formatClaims(decodeJWT(t.access_token)) : '(opaque token)');
    expiry = t.expiry ? new Date(t.expiry) : null;
    tick();
    return t;
  } catch (err) {
    showError(err);
    clearToken();
    return null;
  } finally {
    await refreshSession();
  }
}

async function callAPI(ev) {
  ev.preventDefault();
  clearError();
  const t = await getToken(false);
  if (!t) return;
  const method = $('api-method').value;
  // dualauth.fetch sets Authorization (and a DPoP proof for a bound token).
  const init = { method, headers: {}, credentials: 'omit', referrerPolicy: 'no-referrer' };
  const body = $('api-body').value;
  if (body && method !== 'GET') {
    init.body = body;
    init.headers['Content-Type'] = 'application/json';
  }
  text('api-status', `${method} ${$('api-url').value} …`);
  text('api-out', '');
  try {
    const started = performance.now();
    const { host, clientId, accountId } = settings();
    const r = await auth.fetch($('api-url').value, init, { host, clientId, accountId });
    const raw = await r.text();
    let shown = raw;
    try {
      shown = JSON.stringify(JSON.parse(raw), null, 2);
    } catch {
      // not JSON: show as is
    }
    text('api-status', `HTTP ${r.status} ${r.statusText} · ${r.headers.get('content-type') ?? 'no content type'} · ${Math.round(performance.now() - started)} ms`);
    text('api-out', shown);
  } catch (err) {
    text('api-status', `request failed: ${err.message} (offline, or the server does not allow CORS from ${window.location.origin})`);
  }
}

// mode is where the console keeps refresh tokens: 'page' (IndexedDB) or
// 'worker' (a SharedWorker's memory only); ?mode= wins over the saved choice.
function mode() {
  const q = new URL(window.location.href).searchParams.get('mode');
  const m = (q ?? localStorage.getItem(MODE_KEY)) === 'worker' ? 'worker' : 'page';
  // The callback of a login comes back to the redirect URI, without ?mode.
  localStorage.setItem(MODE_KEY, m);
  return m;
}

async function main() {
  setStatus('loading', 'Loading…');
  const m = mode();
  document.body.dataset.mode = m;
  // load() resolves at once; the wasm keeps loading while the page goes on.
  auth = await load({ worker: m === 'worker' });
  window.dualauth = auth;
  const ready = auth.ready.then(
    () => {
      performance.mark('dualauth-ready');
      return true;
    },
    (err) => {
      setStatus('error', 'dualauth failed to load');
      showError(err);
      return false;
    },
  );

  let redirect;
  try {
    redirect = await auth.handleRedirect();
  } catch (err) {
    redirect = { status: 'error', code: err.code };
    showError(err);
  }
  performance.mark('dualauth-handled');
  window.dualauthRedirect = redirect;

  fillSettings();
  if (redirect.status === 'signed-in') logEvent('signed in');
  auth.onChange((ch) => {
    logEvent(`${ch.signedIn ? 'login updated' : 'logged out'}${ch.clientId ? ` · ${ch.clientId}` : ''}${ch.issuer ? ` @ ${ch.issuer}` : ''}`);
    refreshSession();
  });

  $('settings').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearError();
    const s = settings();
    saveSettings(s);
    const back = new URL(window.location.origin + window.location.pathname);
    back.searchParams.set('host', s.host);
    if (s.clientId) back.searchParams.set('client_id', s.clientId);
    if (s.accountId) back.searchParams.set('account_id', s.accountId);
    if (s.scopes) back.searchParams.set('scopes', s.scopes);
    if (mode() === 'worker') back.searchParams.set('mode', 'worker');
    try {
      await auth.login({ host: s.host, clientId: s.clientId, accountId: s.accountId, scopes: s.scopes || undefined, dpop: s.dpop, returnTo: back.href });
    } catch (err) {
      showError(err);
    }
  });
  $('get-token').addEventListener('click', () => getToken(false));
  $('force-refresh').addEventListener('click', () => getToken(true));
  const logout = async () => {
    clearError();
    const { host, clientId, accountId } = settings();
    try {
      await auth.logout({ host, clientId, accountId });
    } catch (err) {
      showError(err);
    }
    await refreshSession();
  };
  $('logout').addEventListener('click', logout);
  $('remove-login').addEventListener('click', logout);
  $('mode').value = m;
  $('mode').addEventListener('change', async () => {
    // The worker mode neither reads nor removes what the page mode stored:
    // a login in IndexedDB (its refresh token) would stay there, unseen.
    if (m === 'page' && $('mode').value === 'worker' && $('status').dataset.state === 'signed-in') {
      if (window.confirm('The login stored in IndexedDB (with its refresh token) stays there in the worker mode, which does not use it. Log out of it first?')) await logout();
    }
    localStorage.setItem(MODE_KEY, $('mode').value);
    const u = new URL(window.location.href);
    u.searchParams.set('mode', $('mode').value);
    window.location.assign(u.href); // one mode per page load
  });
  $('copy-token').addEventListener('click', () => navigator.clipboard?.writeText($('token-out').textContent));
  $('api-form').addEventListener('submit', callAPI);
  setInterval(tick, 1000);

  if (await ready) await refreshSession();
  document.body.dataset.ready = 'true';
}

main();
