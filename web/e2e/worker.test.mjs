// End-to-end: the worker mode (load({ worker: true })) in headless Chromium
// through the dev console (?mode=worker), against the in-process server of
// nodeop.mjs (/rt: rotating refresh tokens, short access tokens). What a
// same-origin script can reach holds no refresh token; tabs share one
// login, refresh it once and log out together; the login ends with the
// last tab. The same search in the default mode finds the refresh token in
// IndexedDB, which shows that the search looks where it should.
import assert from 'node:assert/strict';
import { copyFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { launchBrowser, poll, startProcess } from './harness.mjs';
import { startNodeOP } from './nodeop.mjs';

const CLIENT_ID = 'console';
const ACCESS_TTL_S = 4; // counted expired after half its life (core.Entry.Valid)

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run scripts/test-e2e-wasm.sh`);
  return v;
};

let serve, browser, consoleURL, op, host, holder;

async function openConsole(mode) {
  const page = await browser.ctx.newPage();
  page.on('pageerror', (err) => console.error('page error:', err.message));
  await page.goto(`${consoleURL}?host=${encodeURIComponent(host)}&client_id=${CLIENT_ID}&mode=${mode}`);
  await page.waitForSelector('body[data-ready="true"]');
  assert.equal(await page.evaluate(() => document.body.dataset.mode), mode);
  return page;
}

// sharedWorkers counts the browser's shared workers, asked through CDP
// from page.
async function sharedWorkers(page) {
  return (await sharedWorkerIDs(page)).length;
}

// sharedWorkerIDs lists the CDP target IDs of the browser's shared
// workers: a worker that ended and one started after it differ.
async function sharedWorkerIDs(page) {
  const cdp = await browser.ctx.newCDPSession(page);
  const { targetInfos } = await cdp.send('Target.getTargets');
  await cdp.detach();
  return targetInfos.filter((t) => t.type === 'shared_worker').map((t) => t.targetId);
}

// workerGone waits until Chromium has ended the shared worker, which it
// does on its own time once the last tab is gone; it asks from a blank
// page, which does not connect to the worker.
async function workerGone() {
  const blank = await browser.ctx.newPage();
  try {
    await poll(async () => (await sharedWorkers(blank)) === 0, { timeoutMs: 15_000, what: 'the shared worker to end' });
  } finally {
    await blank.close();
  }
}

const statusOf = (page) => page.locator('#status').textContent();
const tokenIn = (page) => page.evaluate(({ host, clientId }) => window.dualauth.token({ host, clientId }).then((t) => t.access_token), { host, clientId: CLIENT_ID });

async function signIn(page) {
  const callback = page.waitForRequest((r) => r.isNavigationRequest() && r.url().startsWith(consoleURL) && /[?&]code=/.test(r.url()));
  // The server answers /auth with a 302 straight back, so the tab's URL
  // already matches consoleURL and the old document is loaded and ready:
  // clear its mark, so that only the document of the callback can set it.
  await page.evaluate(() => delete document.body.dataset.ready);
  await page.click('#login');
  await callback;
  await page.waitForSelector('body[data-ready="true"]');
  assert.equal(await statusOf(page), 'Signed in');
}

// reachable is everything a same-origin script can read without the
// worker: every value of every IndexedDB database of the origin, the
// localStorage and sessionStorage, and the page's globals (a walk of
// window's own properties, a few levels deep), as one string.
const reachable = (page) =>
  page.evaluate(async () => {
    const out = [];
    for (const { name } of await indexedDB.databases()) {
      const db = await new Promise((resolve, reject) => {
        const r = indexedDB.open(name);
        r.onsuccess = () => resolve(r.result);
        r.onerror = () => reject(r.error);
      });
      for (const store of db.objectStoreNames) {
        const all = await new Promise((resolve) => {
          const r = db.transaction(store).objectStore(store).getAll();
          r.onsuccess = () => resolve(r.result);
        });
        for (const v of all) {
          if (typeof v === 'string' || v instanceof CryptoKey) {
            out.push(typeof v === 'string' ? v : 'CryptoKey');
            continue;
          }
          // Any other value as JSON (a CryptoKey inside shows as {}), so a
          // refresh token kept inside an object is found too.
          try {
            out.push(JSON.stringify(v));
          } catch {
            out.push(String(v?.constructor?.name ?? typeof v));
          }
        }
      }
      db.close();
    }
    for (const s of [localStorage, sessionStorage]) for (let i = 0; i < s.length; i++) out.push(s.key(i), s.getItem(s.key(i)));
    const seen = new Set();
    const walk = (v, depth) => {
      if (typeof v === 'string') return out.push(v);
      if (v === null || (typeof v !== 'object' && typeof v !== 'function') || seen.has(v) || depth > 4) return;
      seen.add(v);
      let names = [];
      try {
        names = Object.getOwnPropertyNames(v);
      } catch {
        return;
      }
      for (const k of names) {
        let x;
        try {
          x = v[k];
        } catch {
          continue;
        }
        if (x instanceof WebAssembly.Memory) out.push(new TextDecoder().decode(x.buffer));
        walk(x, depth + 1);
      }
    };
    for (const k of Object.getOwnPropertyNames(window)) {
      if (/^(webkit|on)/.test(k)) continue;
      let x;
      try {
        x = window[k];
      } catch {
        continue;
      }
      walk(x, 0);
    }
    return { text: out.join('\n'), goInPage: typeof window.Go === 'function' };
  });

describe('worker mode in Chromium: refresh tokens out of reach of page script', { timeout: 180_000 }, () => {
  before(async () => {
    serve = await startProcess(env('DUALAUTH_SERVE'), ['-addr', '127.0.0.1:0', '-dir', env('DUALAUTH_WEB_DIR'), '-stdin-eof'], { name: 'serve' });
    consoleURL = serve.info.url;
    op = await startNodeOP({ accessTTL: ACCESS_TTL_S });
    host = `${op.base}/rt`;
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await op?.close();
    await serve?.stop();
  });

  test("a worker whose wasm failed to load starts it again on the page's next load()", async () => {
    // A wasm URL of its own: a worker of its own, not the console's.
    const wasm = join(env('DUALAUTH_WEB_DIR'), 'dualauth-retry.wasm');
    await rm(wasm, { force: true });
    const page = await openConsole('page');
    const loadOnce = () =>
      page.evaluate(() =>
        import('./dualauth.js?copy=worker-retry')
          .then((m) => m.load({ worker: true, wasmURL: 'dualauth-retry.wasm' }))
          .then((auth) => auth.ready)
          .then(
            () => 'ready',
            (e) => e.code,
          ),
      );
    assert.equal(await loadOnce(), 'load_failed'); // the wasm is not there yet
    await copyFile(join(env('DUALAUTH_WEB_DIR'), 'dualauth.wasm'), wasm);
    assert.equal(await loadOnce(), 'ready'); // the same worker (this page holds it) tries again
    await page.close();
    await rm(wasm, { force: true });
  });

  test('a worker whose wasm program exits before it is ready fails the load with load_failed, not a load pending for ever', async () => {
    // A wasm_exec.js of its own (so a worker of its own) that starts the
    // real program with a malformed GOMEMLIMIT: the Go runtime throws at
    // start and the program exits before it hands over its API.
    const exec = join(env('DUALAUTH_WEB_DIR'), 'dualauth-exits-exec.js');
    await writeFile(exec, "importScripts('wasm_exec.js');\nself.Go = class extends self.Go {\n  constructor() {\n    super();\n    this.env = { GOMEMLIMIT: 'malformed' };\n  }\n};\n");
    const page = await openConsole('page');
    try {
      const got = await page.evaluate(() =>
        Promise.race([
          import('./dualauth.js?copy=worker-exits')
            .then((m) => m.load({ worker: true, wasmExecURL: 'dualauth-exits-exec.js' }))
            .then((auth) => auth.ready)
            .then(
              () => 'ready',
              (e) => `${e.code}: ${e.message}`,
            ),
          new Promise((resolve) => setTimeout(() => resolve('still pending after 10 s'), 10_000)),
        ]),
      );
      assert.match(got, /^load_failed: .*(exited|crashed) before it was ready/); // not some other failure to load
    } finally {
      await page.close();
      await rm(exec, { force: true });
    }
  });

  test("in the worker mode the core's console lines reach the pages' consoles: a warning with server text, escaped, in every tab", async () => {
    // /revoke: a login whose revocation endpoint (U+202E in its path) nobody
    // listens on, so logout warns.
    const revokeHost = `${op.base}/revoke`;
    const open = async () => {
      const page = await browser.ctx.newPage();
      await page.goto(`${consoleURL}?host=${encodeURIComponent(revokeHost)}&client_id=${CLIENT_ID}&mode=worker`);
      await page.waitForSelector('body[data-ready="true"]');
      const lines = [];
      page.on('console', (m) => lines.push({ type: m.type(), text: m.text() }));
      return { page, lines };
    };
    const a = await open();
    const b = await open();
    try {
      await signIn(a.page);
      const r = await a.page.evaluate(({ h, clientId }) => window.dualauth.logout({ host: h, clientId }), { h: revokeHost, clientId: CLIENT_ID });
      assert.equal(r.removed, true);
      for (const [name, tab] of [['A', a], ['B', b]]) {
        await poll(async () => tab.lines.some((l) => l.type === 'warning' && l.text.includes('revoke')), { what: `the warning in tab ${name}` });
        const w = tab.lines.find((l) => l.type === 'warning' && l.text.includes('revoke')).text;
        assert.ok(w.startsWith('dualauth: '), w);
        assert.ok(w.includes('re\\u202evoke') && !w.includes('\u202e'), w);
      }
    } finally {
      await a.page.close();
      await b.page.close();
    }
  });

  test('switching the console to the worker mode while signed in offers to log out of the stored login first', async () => {
    const page = await openConsole('page');
    await signIn(page);
    const rt = op.issued.at(-1);
    assert.ok((await reachable(page)).text.includes(rt));
    const asked = [];
    page.once('dialog', (d) => {
      asked.push(d.message());
      d.accept();
    });
    await page.selectOption('#mode', 'worker');
    await page.waitForURL(/mode=worker/);
    await page.waitForSelector('body[data-ready="true"]');
    assert.equal(await page.evaluate(() => document.body.dataset.mode), 'worker');
    assert.match(asked[0] ?? '', /stays there in the worker mode/);
    assert.ok(!(await reachable(page)).text.includes(rt), 'the page-mode login was logged out, not left in IndexedDB');
    await page.close();
  });

  test('in the default mode the refresh token is in IndexedDB, where a same-origin script finds it', async () => {
    const page = await openConsole('page');
    await signIn(page);
    const rt = op.issued.at(-1);
    const { text } = await reachable(page);
    assert.ok(text.includes(rt), 'the search finds the persisted refresh token');
    // ... and one kept inside an object, in a database of its own.
    await page.evaluate(
      () =>
        new Promise((resolve, reject) => {
          const r = indexedDB.open('reachable-probe');
          r.onupgradeneeded = () => r.result.createObjectStore('s');
          r.onsuccess = () => {
            const tx = r.result.transaction('s', 'readwrite');
            tx.objectStore('s').put({ entry: { refresh: 'rt-inside-an-object' } }, 'k');
            tx.oncomplete = () => (r.result.close(), resolve());
            tx.onerror = () => reject(tx.error);
          };
          r.onerror = () => reject(r.error);
        }),
    );
    assert.ok((await reachable(page)).text.includes('rt-inside-an-object'), 'the search finds a refresh token inside an object');
    await page.evaluate(() => new Promise((resolve) => (indexedDB.deleteDatabase('reachable-probe').onsuccess = resolve)));
    await page.click('#logout');
    await poll(async () => (await statusOf(page)) === 'Signed out', { what: 'signed out' });
    await page.close();
  });

  test('in the worker mode a same-origin script finds no refresh token in IndexedDB, localStorage, sessionStorage, page globals or wasm memory', async () => {
    const page = await openConsole('worker');
    await signIn(page);
    const s = await page.evaluate(({ host, clientId }) => window.dualauth.session({ host, clientId }), { host, clientId: CLIENT_ID });
    assert.equal(s.refreshable, true, 'the login has a refresh token (in the worker)');
    assert.ok((await tokenIn(page)).startsWith('at-rt-'), 'the page gets access tokens');
    // dualauth.fetch works through the worker: the request as the page
    // built it, with the token; the Response rebuilt in the page.
    const api = await page.evaluate(async ({ host, clientId }) => {
      const r = await window.dualauth.fetch(`${host}/api`, { method: 'POST', body: 'hello', headers: { 'Content-Type': 'text/plain' } }, { host, clientId });
      return { status: r.status, body: await r.json() };
    }, { host, clientId: CLIENT_ID });
    assert.equal(api.status, 201);
    // The token the worker sent, by its form: a token read after the call
    // may already be a newer one (it counts expired after 2 s).
    assert.deepEqual({ ...api.body, authorization: api.body.authorization?.replace(/^Bearer at-rt-\d+$/, 'Bearer at-rt-N') }, { method: 'POST', authorization: 'Bearer at-rt-N', body: 'hello' });
    // The Response says what fetch() would: the URL answered after a
    // redirect, that there was one, its type.
    const moved = await page.evaluate(async ({ host, clientId }) => {
      const r = await window.dualauth.fetch(`${host}/moved`, {}, { host, clientId });
      return { status: r.status, url: r.url, redirected: r.redirected, type: r.type, body: await r.json() };
    }, { host, clientId: CLIENT_ID });
    assert.equal(moved.status, 201);
    assert.equal(moved.url, `${host}/api`);
    assert.equal(moved.redirected, true);
    assert.equal(moved.type, 'cors');
    assert.equal(moved.body.method, 'GET');
    // An AbortSignal is honoured in the page: before the call, and while
    // the worker waits for a slow API.
    const aborts = await page.evaluate(async ({ host, clientId }) => {
      const early = await window.dualauth.fetch(`${host}/api`, { signal: AbortSignal.abort() }, { host, clientId }).then(() => 'resolved', (e) => e.name);
      const started = Date.now();
      const late = await window.dualauth.fetch(`${host}/slow`, { signal: AbortSignal.timeout(200) }, { host, clientId }).then(() => 'resolved', (e) => e.name);
      return { early, late, ms: Date.now() - started };
    }, { host, clientId: CLIENT_ID });
    assert.equal(aborts.early, 'AbortError');
    assert.equal(aborts.late, 'TimeoutError');
    assert.ok(aborts.ms < 2500, `aborted after ${aborts.ms} ms, not when the API answered`);
    const elsewhere = await page.evaluate(({ host, clientId }) => window.dualauth.fetch('http://127.0.0.1:9/x', {}, { host, clientId }).then(() => null, (e) => e.code), { host, clientId: CLIENT_ID });
    assert.equal(elsewhere, 'wrong_origin');
    const { text, goInPage } = await reachable(page);
    assert.equal(goInPage, false, 'no Go program (no wasm memory) in the page');
    for (const rt of op.issued) assert.ok(!text.includes(rt), `refresh token ${rt.replace(/\d+$/, 'N')} reachable from the page`);
    assert.ok(!text.includes('refresh_token'), 'no cache entry at all in page-reachable storage');
    await page.close();
  });

  test('two tabs asking for a token on an expired login make one refresh, 3 runs in a row', async () => {
    const a = await openConsole('worker');
    await signIn(a); // the last test closed the last tab: its login is gone
    const b = await openConsole('worker');
    assert.equal(await statusOf(b), 'Signed in', 'the tabs share the login');
    for (let run = 1; run <= 3; run++) {
      await tokenIn(a);
      await new Promise((r) => setTimeout(r, (ACCESS_TTL_S / 2) * 1000 + 300));
      const before = op.stats.refresh_token;
      const [ta, tb] = await Promise.all([tokenIn(a), tokenIn(b)]);
      assert.equal(op.stats.refresh_token - before, 1, `run ${run}: refresh requests at the server`);
      assert.equal(ta, tb, `run ${run}: both tabs got the refreshed token`);
    }
    await b.close();
    holder = a; // keeps the worker, and so the login, for the next test
  });

  test('logout in one tab logs out the other', async () => {
    const a = await openConsole('worker');
    const b = await openConsole('worker');
    await holder.close();
    assert.equal(await statusOf(a), 'Signed in');
    assert.equal(await statusOf(b), 'Signed in');
    await a.click('#logout');
    await poll(async () => (await statusOf(a)) === 'Signed out', { what: 'tab A signed out' });
    await poll(async () => (await statusOf(b)) === 'Signed out', { what: 'tab B signed out by the worker' });
    const err = await b.evaluate(({ host, clientId }) => window.dualauth.token({ host, clientId }).then(() => null, (e) => e.code), { host, clientId: CLIENT_ID });
    assert.equal(err, 'not_logged_in');
    await a.close();
    await b.close();
  });

  test('the login ends when the last tab of the origin closes, or the only one reloads', async () => {
    const page = await openConsole('worker');
    await signIn(page);
    const other = await openConsole('worker');
    assert.equal(await statusOf(other), 'Signed in');
    const held = await sharedWorkerIDs(other);
    assert.equal(held.length, 1);
    await other.reload(); // another tab holds the worker meanwhile
    await other.waitForSelector('body[data-ready="true"]');
    assert.deepEqual(await sharedWorkerIDs(other), held, 'the same worker');
    assert.equal(await statusOf(other), 'Signed in', 'a reload while another tab is open keeps the login');
    await page.close();
    assert.equal(await sharedWorkers(other), 1); // what workerGone waits to see end
    await other.close(); // the last one
    await workerGone();
    const next = await openConsole('worker');
    assert.equal(await statusOf(next), 'Signed out', 'gone with the last tab');
    await signIn(next);
    const [before] = await sharedWorkerIDs(next);
    await next.reload(); // Chromium ends the worker between the two documents
    await next.waitForSelector('body[data-ready="true"]');
    // What the assertion below rests on, seen in the browser: the reloaded
    // page runs a new worker, and the first document's one ends (its target
    // may linger a moment). Had the new page reached the old worker, that
    // one would never end and this would time out, saying so.
    await poll(async () => !(await sharedWorkerIDs(next)).includes(before), { timeoutMs: 15_000, what: 'the first document’s worker to end' });
    assert.equal(await sharedWorkers(next), 1, 'the reloaded page runs a worker of its own');
    assert.equal(await statusOf(next), 'Signed out', 'gone with the reload of the only tab');
    await next.close();
  });
});
