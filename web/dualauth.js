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

let loaded = null;

/**
 * Starts loading the wasm (once per page) and resolves at once to the API:
 * a page never waits for the wasm before its own work. Calls that need the
 * core wait for it; `ready` settles when it runs. If it fails to load, those
 * calls and `ready` reject with code 'load_failed', and the next load()
 * tries again. With worker: true the core runs in a SharedWorker
 * (dualauth-worker.js) that keeps refresh tokens in its memory only.
 * @param {{ wasmURL?: string | URL, wasmExecURL?: string | URL, worker?: boolean }} [options]
 */
export async function load(options = {}) {
  if (!loaded) {
    const running = (options.worker ? startWorker(options) : start(options)).catch((err) => {
      loaded = null;
      throw loadFailed(err);
    });
    running.catch(() => {}); // reported through ready and every call, not as unhandled
    loaded = wrap(running);
  }
  return loaded;
}

function loadFailed(err) {
  const e = new Error(`dualauth: the WebAssembly module did not load: ${err?.message ?? err}`, { cause: err });
  e.code = 'load_failed';
  return e;
}

let attempts = 0;

async function start({ wasmURL, wasmExecURL } = {}) {
  attempts++;
  wasmURL = new URL(wasmURL ?? 'dualauth.wasm', import.meta.url);
  wasmExecURL = new URL(wasmExecURL ?? 'wasm_exec.js', import.meta.url);
  // The download starts first; Go's support script loads meanwhile.
  const response = fetch(wasmURL, { credentials: 'same-origin' }).then((r) => {
    if (!r.ok) throw new Error(`HTTP ${r.status} for ${wasmURL.href}`);
    return r;
  });
  response.catch(() => {}); // awaited below, unless wasm_exec.js fails first
  if (typeof globalThis.Go !== 'function') {
    // Browsers built to the HTML spec before whatwg/html#10327 remember a
    // failed module fetch for the page's life: a retry asks anew under
    // another URL.
    if (attempts > 1) wasmExecURL.searchParams.set('dualauth-retry', String(attempts));
    await import(wasmExecURL.href); // defines globalThis.Go
  }
  const go = new globalThis.Go();
  // The program hands its API to a global function named for this load
  // (wasm/main.go), so two copies of this module never take each other's.
  const hook = `__dualauthReady_${attempts}_${Math.random().toString(36).slice(2)}`;
  go.env = { ...go.env, DUALAUTH_READY_HOOK: hook };
  const ready = new Promise((resolve) => {
    globalThis[hook] = resolve;
  });
  try {
    let instance;
    if (WebAssembly.instantiateStreaming) {
      try {
        ({ instance } = await WebAssembly.instantiateStreaming(response, go.importObject));
      } catch (err) {
        await response; // an HTTP or network failure is the one to report
        if (!(err instanceof TypeError)) throw err;
        // A server that sends the wasm without application/wasm: compile from bytes.
        const again = await fetch(wasmURL, { credentials: 'same-origin' });
        ({ instance } = await WebAssembly.instantiate(await again.arrayBuffer(), go.importObject));
      }
    } else {
      ({ instance } = await WebAssembly.instantiate(await (await response).arrayBuffer(), go.importObject));
    }
    const exited = go.run(instance);
    exited.then(
      () => console.error('dualauth: the wasm program exited'),
      (err) => console.error('dualauth: the wasm program crashed', err),
    );
    return await Promise.race([
      ready,
      exited.then(() => {
        throw new Error('the wasm program exited before it was ready');
      }),
    ]);
  } finally {
    delete globalThis[hook];
  }
}

// startWorker connects to the origin's dualauth SharedWorker (one per wasm
// and wasm_exec.js URL) and resolves, once its core runs, to an object with
// the methods of the wasm's API, each a message to the worker. What must
// happen in the page — going to the authorization server, back to where the
// login started, building the Response — happens here. No answer of the
// worker carries a refresh token.
async function startWorker({ wasmURL, wasmExecURL } = {}) {
  if (typeof SharedWorker !== 'function') throw new Error('this browser has no SharedWorker, which the worker mode needs');
  const url = new URL('dualauth-worker.js', import.meta.url);
  url.searchParams.set('wasm', new URL(wasmURL ?? 'dualauth.wasm', import.meta.url).href);
  url.searchParams.set('exec', new URL(wasmExecURL ?? 'wasm_exec.js', import.meta.url).href);
  const worker = new SharedWorker(url, { name: 'dualauth' });
  const port = worker.port;
  const waiting = new Map();
  const listeners = new Set();
  let seq = 0;
  const failed = new Promise((_, reject) => {
    worker.onerror = () => reject(new Error(`the worker ${url.pathname} did not start`));
  });
  failed.catch(() => {});
  port.onmessage = ({ data }) => {
    if (data?.change) {
      for (const cb of listeners) queueMicrotask(() => cb({ ...data.change }));
      return;
    }
    if (data?.console) {
      // A console line of the core in the worker, written here as the
      // page mode writes it.
      (data.console.level === 'info' ? console.info : console.warn)(String(data.console.text));
      return;
    }
    const w = waiting.get(data?.id);
    if (!w) return;
    waiting.delete(data.id);
    if (data.error) w.reject(Object.assign(new Error(data.error.message), data.error));
    else w.resolve(data.value);
  };
  port.start();
  // Changes go to the pages that are showing: one kept in the back/forward
  // cache comes back on pageshow.
  window.addEventListener('pagehide', () => port.postMessage({ method: 'close' }));
  window.addEventListener('pageshow', (ev) => ev.persisted && port.postMessage({ method: 'open' }));
  const rpc = (method, ...args) =>
    new Promise((resolve, reject) => {
      const id = ++seq;
      waiting.set(id, { resolve, reject });
      port.postMessage({ id, method, args });
    });
  await Promise.race([rpc('ready'), failed]);
  return {
    async login(o) {
      // The defaults are this page's, not the worker's.
      const here = window.location;
      const r = await rpc('login', { ...o, redirectUri: o.redirectUri ?? here.origin + here.pathname, returnTo: new URL(o.returnTo ?? here.href, here.href).href });
      if (r?.redirect) window.location.assign(r.redirect);
    },
    async handleRedirect(href) {
      const r = await rpc('handleRedirect', href);
      if (r.status === 'signed-in' && r.returnTo) {
        if (r.samePage) window.history.replaceState(window.history.state, '', r.returnTo);
        else window.location.assign(r.returnTo);
      }
      return { status: r.status, returnTo: r.returnTo };
    },
    token: (o) => rpc('token', o),
    logout: (o) => rpc('logout', o),
    session: (o) => rpc('session', o),
    async fetch(input, init, o) {
      const req = new Request(input, init);
      // The signal is honoured here: an aborted call rejects with its
      // reason (an AbortError) at once, as fetch() does; the worker's
      // request, already on its way, runs to its end unseen. keepalive is
      // not carried: the worker outlives the page anyway while another tab
      // of the origin is open (web/README.md).
      const signal = req.signal;
      signal.throwIfAborted();
      const body = req.method === 'GET' || req.method === 'HEAD' ? undefined : await req.arrayBuffer();
      signal.throwIfAborted();
      const plain = { method: req.method, headers: [...req.headers], body, credentials: req.credentials, cache: req.cache, redirect: req.redirect, referrerPolicy: req.referrerPolicy, integrity: req.integrity };
      let onAbort;
      const aborted = new Promise((_, reject) => {
        onAbort = () => reject(signal.reason);
        signal.addEventListener('abort', onAbort, { once: true });
      });
      let r;
      try {
        r = await Promise.race([rpc('fetch', { url: req.url, init: plain }, o), aborted]);
      } finally {
        signal.removeEventListener('abort', onAbort);
      }
      // A redirect not followed (a request with a proof) cannot be rebuilt
      // as such in the page: it is a network-error Response whose type
      // still says opaqueredirect, as in the page mode.
      const opaque = r.type === 'opaqueredirect' || r.status === 0;
      const noBody = [101, 204, 205, 304].includes(r.status);
      const res = opaque ? Response.error() : new Response(noBody ? null : r.body, { status: r.status, statusText: r.statusText, headers: r.headers });
      // What a constructed Response cannot be given: the URL answered (after
      // redirects), whether there were any, and the type the worker saw.
      Object.defineProperties(res, {
        url: { value: r.url ?? '', enumerable: true },
        redirected: { value: Boolean(r.redirected), enumerable: true },
        type: { value: opaque ? 'opaqueredirect' : r.type, enumerable: true },
      });
      return res;
    },
    onChange(cb) {
      listeners.add(cb);
      return () => listeners.delete(cb);
    },
  };
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

const TARGET = ['host', 'clientId', 'accountId', 'resource'];
// Options of logins without a person (secrets, keys, token exchange): passed
// on so that the wasm refuses them by name — dropped here, a page would not
// learn that its secret was never meant for a browser.
const WITHOUT_PERSON = ['clientSecret', 'clientKey', 'subjectToken', 'grant', 'clientAuth'];

function wrap(running) {
  const ready = running.then(() => undefined);
  ready.catch(() => {}); // a page need not listen: the calls report the failure too
  return Object.freeze({
    /** Settles when the wasm runs; rejects with code 'load_failed'. */
    ready,
    /** Starts a login: the page goes to the authorization server. */
    async login(opts) {
      const o = pick(opts, [...TARGET, 'scopes', 'redirectUri', 'returnTo', 'prompt', 'dpop', ...WITHOUT_PERSON]);
      return (await running).login(o);
    },
    /**
     * Finishes a login when this page load is its callback. Whether it is
     * was settled when this module was evaluated (S28), so a page load that
     * is not a callback resolves 'none' without waiting for the wasm.
     */
    async handleRedirect() {
      if (pendingCallback === null) return { status: 'none', returnTo: null };
      // The callback is taken only once the wasm runs: after a failed load
      // it is still there for the next load() to finish.
      const raw = await running;
      const href = pendingCallback;
      pendingCallback = null; // one callback per page load
      if (href === null) return { status: 'none', returnTo: null }; // another call took it
      return raw.handleRedirect(href);
    },
    /** An access token, refreshed (once across all tabs) when needed. */
    async token(opts) {
      const o = pick(opts, [...TARGET, 'forceRefresh']);
      return (await running).token(o);
    },
    /**
     * fetch() with the login's token: "Authorization: DPoP" and a proof of
     * this request signed by the login's non-extractable key, or Bearer.
     * One retry on a use_dpop_nonce 401, one refresh on another 401.
     */
    async fetch(input, init, opts) {
      const o = pick(opts, TARGET);
      return (await running).fetch(input, init ?? {}, o);
    },
    /** Removes the login from every tab of this origin. */
    async logout(opts) {
      const o = pick(opts, TARGET);
      return (await running).logout(o);
    },
    /** What is stored for a login, without its tokens. */
    async session(opts) {
      const o = pick(opts, TARGET);
      return (await running).session(o);
    },
    /** Calls cb on every login, refresh or logout, in any tab; returns an unsubscribe function. */
    onChange(cb) {
      if (typeof cb !== 'function') throw new TypeError('dualauth: onChange needs a function');
      let off = null;
      let cancelled = false;
      running
        .then(
          (raw) => {
            if (!cancelled) off = raw.onChange(cb);
          },
          () => {}, // nothing will ever change: the calls report the failure
        )
        .catch((err) => console.error('dualauth: onChange could not be registered', err));
      return () => {
        cancelled = true;
        off?.();
        off = null;
      };
    },
  });
}
