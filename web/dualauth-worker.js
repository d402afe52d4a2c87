// dualauth worker mode: the Go core runs here, in a SharedWorker that every
// tab of the origin shares, and keeps its logins — refresh tokens among
// them — in this worker's memory only. Pages reach it through dualauth.js
// (load({ worker: true })) by messages on a MessagePort, and get what the
// API gives in any mode: access tokens, sessions without tokens, Responses.
// No message carries a refresh token, and nothing with one is written to
// storage. When the last tab of the origin closes, the worker ends and the
// logins with it.
//
// Its URL names the wasm and Go's wasm_exec.js (?wasm=…&exec=…): pages that
// load dualauth the same way share one worker.
'use strict';

const params = new URL(self.location.href).searchParams;
const wasmURL = new URL(params.get('wasm') ?? 'dualauth.wasm', self.location.href);
const execURL = new URL(params.get('exec') ?? 'wasm_exec.js', self.location.href);
const ports = new Set();

// api is the running core, started by the first call. A failed start is
// reported to the calls waiting for it and forgotten: the next call (a
// page's next load(), which asks 'ready') starts it again, as a page's load()
// does in the default mode.
let loading = null;
function api() {
  if (!loading) {
    loading = start().catch((err) => {
      loading = null;
      throw { message: `dualauth: the WebAssembly module did not load in the worker: ${err?.message ?? err}`, code: 'load_failed' };
    });
    loading.catch(() => {}); // reported to every call
  }
  return loading;
}

async function start() {
  if (typeof self.Go !== 'function') importScripts(execURL.href); // defines self.Go
  const go = new self.Go();
  const hook = `__dualauthReady_${Math.random().toString(36).slice(2)}`;
  go.env = { ...go.env, DUALAUTH_READY_HOOK: hook, DUALAUTH_MODE: 'worker' };
  const ready = new Promise((resolve) => {
    self[hook] = resolve;
  });
  const response = await fetch(wasmURL, { credentials: 'same-origin' });
  if (!response.ok) throw new Error(`HTTP ${response.status} for ${wasmURL.href}`);
  const { instance } = await WebAssembly.instantiate(await response.arrayBuffer(), go.importObject);
  const exited = go.run(instance);
  exited.then(
    () => console.error('dualauth: the wasm program exited'),
    (err) => console.error('dualauth: the wasm program crashed', err),
  );
  let raw;
  try {
    // A program that ends before it hands over its API (a panic at start)
    // fails the load, as in the page mode, instead of leaving it pending.
    raw = await Promise.race([
      ready,
      exited.then(
        () => {
          throw new Error('the wasm program exited before it was ready');
        },
        (err) => {
          throw new Error(`the wasm program crashed before it was ready: ${err?.message ?? err}`);
        },
      ),
    ]);
  } finally {
    delete self[hook];
  }
  // A change in one tab is a change in all of them.
  raw.onChange((change) => {
    for (const p of ports) p.postMessage({ change: { ...change } });
  });
  // The core's console lines (warnings, step-up hints, the client chosen)
  // go to every page, whose console the user reads, not only to this one.
  raw.onConsole((line) => {
    for (const p of ports) p.postMessage({ console: { level: String(line.level), text: String(line.text) } });
  });
  return raw;
}

// plainResponse turns a Response into what a message can carry.
async function plainResponse(r) {
  const body = await r.arrayBuffer();
  return { status: r.status, statusText: r.statusText, type: r.type, url: r.url, redirected: r.redirected, headers: [...r.headers], body };
}

async function perform(raw, method, args) {
  switch (method) {
    case 'ready':
      return null;
    case 'login':
    case 'handleRedirect':
    case 'token':
    case 'logout':
    case 'session':
      return raw[method](...args);
    case 'fetch': {
      const [{ url, init }, opts] = args;
      return plainResponse(await raw.fetch(url, init, opts));
    }
  }
  throw { message: `dualauth worker: no method ${String(method)}`, code: 'invalid_argument' };
}

self.onconnect = (ev) => {
  const port = ev.ports[0];
  ports.add(port);
  port.onmessage = async ({ data }) => {
    const { id, method, args } = data ?? {};
    if (method === 'close' || method === 'open') {
      if (method === 'close') ports.delete(port); // the page is going away (or into the back/forward cache)
      else ports.add(port);
      return;
    }
    try {
      const value = await perform(await api(), method, args ?? []);
      port.postMessage({ id, value }, value?.body instanceof ArrayBuffer ? [value.body] : []);
    } catch (err) {
      const error = { message: String(err?.message ?? err), code: err?.code ?? 'internal_error' };
      if (err?.description !== undefined) error.description = err.description;
      port.postMessage({ id, error });
    }
  };
};
