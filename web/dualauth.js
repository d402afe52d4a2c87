// dualauth browser API: loads the Go core compiled to WebAssembly and wraps
// it. See dualauth.d.ts for the types.
//
//   import { load } from './dualauth.js';
//   const auth = await load({ wasmURL: '/dualauth.wasm' });
//   const r = await auth.handleRedirect();          // on every page load
//   const t = await auth.token({ host, clientId }); // refreshed as needed

// S28: an authorization response (code, state, error...) leaves the address
// bar while this module is evaluated, before the wasm loads and before any
// module that imports this one runs. The original URL is kept here, in
// memory only, for handleRedirect.
const callbackParams = ['code', 'state', 'error', 'error_description', 'error_uri', 'iss', 'session_state'];
let pendingCallback = null;
{
  const u = new URL(window.location.href);
  if (u.searchParams.has('code') || u.searchParams.has('state') || u.searchParams.has('error')) {
    pendingCallback = u.href;
    for (const p of callbackParams) u.searchParams.delete(p);
    window.history.replaceState(window.history.state, '', u.href);
  }
}

let loading = null;

/**
 * Loads the wasm once per page and resolves to the API.
 * @param {{ wasmURL?: string | URL, wasmExecURL?: string | URL }} [options]
 */
export function load(options = {}) {
  if (!loading) {
    loading = start(options).catch((err) => {
      loading = null;
      throw err;
    });
  }
  return loading;
}

async function start({ wasmURL, wasmExecURL } = {}) {
  wasmURL = new URL(wasmURL ?? 'dualauth.wasm', import.meta.url);
  wasmExecURL = new URL(wasmExecURL ?? 'wasm_exec.js', import.meta.url);
  // The download starts first; Go's support script loads meanwhile.
  const response = fetch(wasmURL, { credentials: 'same-origin' });
  if (typeof globalThis.Go !== 'function') {
    await import(wasmExecURL.href); // defines globalThis.Go
  }
  const go = new globalThis.Go();
  const ready = new Promise((resolve) => {
    globalThis.__dualauthReady = resolve;
  });
  let instance;
  if (WebAssembly.instantiateStreaming) {
    try {
      ({ instance } = await WebAssembly.instantiateStreaming(response, go.importObject));
    } catch (err) {
      // A server that sends the wasm without application/wasm: retry from bytes.
      if (!(err instanceof TypeError)) throw err;
      ({ instance } = await WebAssembly.instantiate(await (await fetch(wasmURL)).arrayBuffer(), go.importObject));
    }
  } else {
    ({ instance } = await WebAssembly.instantiate(await (await response).arrayBuffer(), go.importObject));
  }
  go.run(instance).then(
    () => console.error('dualauth: the wasm program exited'),
    (err) => console.error('dualauth: the wasm program crashed', err),
  );
  const raw = await ready;
  delete globalThis.__dualauthReady;
  return wrap(raw);
}

// pick copies the options the API knows into a plain object, so the wasm
// never reads a page's getter or proxy (which could throw inside Go).
function pick(opts, keys) {
  const out = {};
  if (opts === null || typeof opts !== 'object') return out;
  for (const k of keys) {
    const v = opts[k];
    if (v === undefined || v === null) continue;
    out[k] = Array.isArray(v) ? v.map(String) : typeof v === 'object' ? String(v) : v;
  }
  return out;
}

const TARGET = ['host', 'clientId'];

function wrap(raw) {
  return Object.freeze({
    /** Starts a login: the page goes to the authorization server. */
    async login(opts) {
      return raw.login(pick(opts, [...TARGET, 'scopes', 'redirectUri', 'returnTo', 'prompt']));
    },
    /** Finishes a login when this page load is its callback. */
    async handleRedirect() {
      const href = pendingCallback;
      pendingCallback = null; // one callback per page load
      return raw.handleRedirect(href ?? undefined);
    },
    /** An access token, refreshed (once across all tabs) when needed. */
    async token(opts) {
      return raw.token(pick(opts, [...TARGET, 'forceRefresh']));
    },
    /** Removes the login from every tab of this origin. */
    async logout(opts) {
      return raw.logout(pick(opts, TARGET));
    },
    /** What is stored for a login, without its tokens. */
    async session(opts) {
      return raw.session(pick(opts, TARGET));
    },
    /** Calls cb on every login, refresh or logout, in any tab; returns an unsubscribe function. */
    onChange(cb) {
      if (typeof cb !== 'function') throw new TypeError('dualauth: onChange needs a function');
      return raw.onChange(cb);
    },
  });
}
