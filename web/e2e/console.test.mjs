// End-to-end: the dev console in headless Chromium, logging in to a real
// OpenID provider (internal/testidp) through its login page. Each test
// states the behaviour it checks; they share one provider, one console
// server and one browser profile, and run in order.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { launchBrowser, poll, startProcess } from './harness.mjs';

const CLIENT_ID = 'dualauth-console';
const ACCESS_TTL_S = 6; // short: the refresh test waits for a real expiry (half of it, see core.Entry.Valid)
const USER = 'test-user@127.0.0.1'; // the provider's test user
const PASSWORD = 'verysecure';
const SCOPES = 'openid offline_access profile email';

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run scripts/test-e2e-wasm.sh`);
  return v;
};

let serve, idp, browser, consoleURL, issuer;

async function stats() {
  const r = await fetch(`${issuer}/_test/stats`);
  return r.json();
}

// openConsole opens a tab on the console, pre-filled for the provider, and
// waits until the page has handled its load (callback or not).
async function openConsole(url = `${consoleURL}?host=${encodeURIComponent(issuer)}&client_id=${CLIENT_ID}&scopes=${encodeURIComponent(SCOPES)}`) {
  const page = await browser.ctx.newPage();
  page.on('pageerror', (err) => console.error('page error:', err.message));
  await page.goto(url);
  await page.waitForSelector('body[data-ready="true"]');
  return page;
}

const statusOf = (page) => page.locator('#status').textContent();
const tokenIn = (page) => page.evaluate(({ host, clientId }) => window.dualauth.token({ host, clientId }).then((t) => t.access_token), { host: issuer, clientId: CLIENT_ID });
const errorOf = (page) =>
  page.evaluate(() => ({ code: document.getElementById('error').dataset.code ?? null, message: document.getElementById('error-message').textContent }));

// signIn clicks "Log in", fills the provider's login form, and waits to be
// back on the console. It returns the callback URL the provider sent the
// browser to (for the replay test).
async function signIn(page) {
  let callback = null;
  const onRequest = (req) => {
    if (req.isNavigationRequest() && req.url().startsWith(consoleURL) && new URL(req.url()).searchParams.has('code')) callback = req.url();
  };
  page.on('request', onRequest);
  await page.click('#login');
  await page.waitForURL((u) => u.href.startsWith(`${issuer}/login/username`));
  await page.fill('input[name="username"]', USER);
  await page.fill('input[name="password"]', PASSWORD);
  await Promise.all([page.waitForURL((u) => u.href.startsWith(consoleURL)), page.click('button[type="submit"], input[type="submit"]')]);
  await page.waitForSelector('body[data-ready="true"]');
  page.off('request', onRequest);
  return callback;
}

// pendingState starts a login and stops it at the provider: the state of
// the authorization request, whose pending login the console has saved.
async function pendingState(page) {
  const req = page.waitForRequest((r) => r.url().startsWith(`${issuer}/auth?`));
  await page.click('#login');
  const state = new URL((await req).url()).searchParams.get('state');
  await page.waitForURL((u) => u.href.startsWith(`${issuer}/login/username`));
  assert.ok(state, 'the authorize request carries a state');
  return state;
}

// expireStoredToken moves the stored access token's expiry into the past,
// straight in IndexedDB, as if it had aged (the refresh token stays).
async function expireStoredToken(page) {
  await page.evaluate(
    () =>
      new Promise((resolve, reject) => {
        const open = indexedDB.open('dualauth');
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const tx = open.result.transaction('tokens', 'readwrite');
          const st = tx.objectStore('tokens');
          const cur = st.openCursor();
          cur.onsuccess = () => {
            const c = cur.result;
            if (!c) return;
            const e = JSON.parse(c.value);
            e.obtained_at = new Date(Date.now() - 3_600_000).toISOString();
            e.expiry = new Date(Date.now() - 1_000).toISOString();
            c.update(JSON.stringify(e));
            c.continue();
          };
          tx.oncomplete = () => {
            open.result.close();
            resolve();
          };
          tx.onerror = () => reject(tx.error);
        };
      }),
  );
}

describe('dev console in Chromium against a real OpenID provider', { timeout: 180_000 }, () => {
  before(async () => {
    serve = await startProcess(env('DUALAUTH_SERVE'), ['-addr', '127.0.0.1:0', '-dir', env('DUALAUTH_WEB_DIR'), '-stdin-eof'], { name: 'serve' });
    consoleURL = serve.info.url;
    idp = await startProcess(env('DUALAUTH_TESTIDP'), ['-addr', '127.0.0.1:0', '-client', `${CLIENT_ID}=${consoleURL}`, '-access-ttl', `${ACCESS_TTL_S}s`], {
      name: 'testidp',
    });
    issuer = idp.info.issuer;
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await idp?.stop();
    await serve?.stop();
  });

  test('login through the provider login page comes back to the console signed in, with code and state gone from the address bar', async () => {
    const page = await openConsole();
    assert.equal(await statusOf(page), 'Signed out');
    await signIn(page);
    assert.equal(await statusOf(page), 'Signed in');
    // The provider's ID token names the user by subject only.
    const claims = await page.evaluate(({ host, clientId }) => window.dualauth.session({ host, clientId }).then((s) => s.claims), { host: issuer, clientId: CLIENT_ID });
    assert.ok(claims?.sub, 'the ID token has a subject');
    assert.equal(await page.locator('#signed-in-as').textContent(), claims.sub);
    assert.equal(await page.locator('#granted-scopes').textContent(), SCOPES);
    assert.deepEqual(await page.evaluate(() => window.dualauthRedirect.status), 'signed-in');
    // S28: no script of the page ever saw the code, and the address bar is
    // back on the URL the login started from.
    const first = new URL(await page.evaluate(() => window.consoleFirstURL));
    assert.ok(!first.searchParams.has('code') && !first.searchParams.has('state'), `first URL seen by the page: ${first.pathname}${first.search ? '?…' : ''}`);
    const now = new URL(page.url());
    assert.ok(!now.searchParams.has('code') && !now.searchParams.has('state'));
    assert.equal(now.searchParams.get('client_id'), CLIENT_ID);
    assert.equal((await stats()).authorization_code, 1);
    // Tokens live in IndexedDB only: nothing in localStorage holds them.
    const token = await tokenIn(page);
    const local = await page.evaluate(() => Object.values(localStorage).join('\n'));
    assert.ok(!local.includes(token), 'the access token is not in localStorage');
    await page.close();
  });

  test('a reload keeps the session', async () => {
    const page = await openConsole();
    assert.equal(await statusOf(page), 'Signed in');
    await page.reload();
    await page.waitForSelector('body[data-ready="true"]');
    assert.equal(await statusOf(page), 'Signed in');
    assert.ok((await tokenIn(page)).length > 0);
    await page.close();
  });

  test('an expired access token is refreshed, and the rotated refresh token is the one used next', async () => {
    const page = await openConsole();
    const t1 = await tokenIn(page); // fresh now (refreshed if the last test left it expired)
    const before = (await stats()).refresh_token;
    // A short-lived token counts as expired after half its life (core.Entry.Valid).
    await new Promise((r) => setTimeout(r, (ACCESS_TTL_S / 2) * 1000 + 300));
    const t2 = await tokenIn(page);
    assert.notEqual(t2, t1);
    assert.equal((await stats()).refresh_token, before + 1);
    await new Promise((r) => setTimeout(r, (ACCESS_TTL_S / 2) * 1000 + 300));
    // The provider rotates refresh tokens and rejects a reused one: this
    // second refresh succeeds only with the token the first one returned.
    const t3 = await tokenIn(page);
    assert.notEqual(t3, t2);
    assert.equal((await stats()).refresh_token, before + 2);
    assert.equal(await statusOf(page), 'Signed in');
    await page.close();
  });

  test('two tabs asking for a token on an expired session cause exactly one refresh, 20 runs in a row', async () => {
    const a = await openConsole();
    const b = await openConsole();
    for (let run = 1; run <= 20; run++) {
      await expireStoredToken(a);
      const before = (await stats()).refresh_token;
      const [ta, tb] = await Promise.all([tokenIn(a), tokenIn(b)]);
      const after = (await stats()).refresh_token;
      assert.equal(after - before, 1, `run ${run}: refresh requests at the provider`);
      assert.equal(ta, tb, `run ${run}: both tabs got the refreshed token`);
    }
    await a.close();
    await b.close();
  });

  test('logout in one tab logs out the other', async () => {
    const a = await openConsole();
    const b = await openConsole();
    assert.equal(await statusOf(b), 'Signed in');
    await a.click('#logout');
    await poll(async () => (await statusOf(a)) === 'Signed out', { what: 'tab A signed out' });
    await poll(async () => (await statusOf(b)) === 'Signed out', { what: 'tab B signed out by the storage event' });
    const err = await b.evaluate(({ host, clientId }) => window.dualauth.token({ host, clientId }).then(() => null, (e) => e.code), { host: issuer, clientId: CLIENT_ID });
    assert.equal(err, 'not_logged_in');
    await a.close();
    await b.close();
  });

  test('options of logins without a person are refused by name through dualauth.js, and nothing navigates', async () => {
    const page = await openConsole();
    const url = page.url();
    for (const k of ['clientSecret', 'clientKey', 'subjectToken', 'grant', 'clientAuth']) {
      const got = await page.evaluate(
        ({ host, clientId, k }) => window.dualauth.login({ host, clientId, [k]: 'x' }).then(() => 'resolved', (e) => `${e.code}: ${e.message}`),
        { host: issuer, clientId: CLIENT_ID, k },
      );
      assert.match(got, new RegExp(`^invalid_argument: .*${k}`), k);
    }
    assert.equal(page.url(), url);
    await page.close();
  });

  test('error=access_denied from the provider is shown with its code', async () => {
    const page = await openConsole();
    const state = await pendingState(page);
    await page.goto(`${consoleURL}?error=access_denied&error_description=${encodeURIComponent('The user said no')}&state=${encodeURIComponent(state)}`);
    await page.waitForSelector('body[data-ready="true"]');
    const err = await errorOf(page);
    assert.equal(err.code, 'access_denied');
    assert.match(err.message, /The user said no/);
    assert.equal(await statusOf(page), 'Signed out');
    assert.ok(!page.url().includes('state='), 'state removed from the address bar');
    await page.close();
  });

  test('an error_description with HTML is shown as text and never executed', async () => {
    const page = await openConsole();
    const state = await pendingState(page);
    const evil = '<img src=x onerror="window.__pwned=1"><b>bold</b>';
    await page.goto(`${consoleURL}?error=access_denied&error_description=${encodeURIComponent(evil)}&state=${encodeURIComponent(state)}`);
    await page.waitForSelector('body[data-ready="true"]');
    const err = await errorOf(page);
    assert.equal(err.code, 'access_denied');
    assert.ok(err.message.includes(evil), 'the description is displayed literally');
    assert.equal(await page.locator('#error img, #error b').count(), 0, 'no element was created from it');
    assert.equal(await page.evaluate(() => window.__pwned ?? null), null);
    await page.close();
  });

  test('a login in one tab shows up in the other', async () => {
    const a = await openConsole();
    const b = await openConsole();
    assert.equal(await statusOf(b), 'Signed out');
    await signIn(a);
    assert.equal(await statusOf(a), 'Signed in');
    await poll(async () => (await statusOf(b)) === 'Signed in', { what: 'tab B signed in by the storage event' });
    assert.equal(await tokenIn(b), await tokenIn(a));
    await a.close();
    await b.close();
  });

  test('a replayed callback URL is rejected with state_mismatch and never reaches the token endpoint', async () => {
    const page = await openConsole();
    const callback = await signIn(page);
    assert.equal(await statusOf(page), 'Signed in');
    assert.ok(callback, 'the provider redirected to the console with a code');
    const codes = (await stats()).authorization_code;
    await page.goto(callback);
    await page.waitForSelector('body[data-ready="true"]');
    assert.equal((await errorOf(page)).code, 'state_mismatch');
    assert.equal((await stats()).authorization_code, codes, 'no second code exchange');
    assert.ok(!page.url().includes('code='), 'code removed from the address bar');
    await page.close();
  });

  test('a page load that is not a callback is handled before the wasm arrives, and a wasm that fails to load rejects the calls with load_failed', async () => {
    const page = await browser.ctx.newPage();
    let release;
    const held = new Promise((resolve) => {
      release = resolve;
    });
    let asked = 0;
    await page.route('**/dualauth.wasm', async (route) => {
      asked++;
      await held; // the wasm is not there until the test says so
      await route.fulfill({ status: 404, contentType: 'text/plain', body: 'gone' });
    });
    await page.goto(`${consoleURL}?host=${encodeURIComponent(issuer)}&client_id=${CLIENT_ID}`);
    await page.waitForFunction(() => window.dualauthRedirect !== undefined);
    assert.deepEqual(await page.evaluate(() => window.dualauthRedirect), { status: 'none', returnTo: null });
    assert.ok(asked >= 1, 'the wasm was asked for');
    assert.equal(await statusOf(page), 'Loading…', 'the wasm is still on its way');
    release();
    await page.waitForSelector('body[data-ready="true"]');
    assert.equal(await statusOf(page), 'dualauth failed to load');
    assert.equal((await errorOf(page)).code, 'load_failed');
    const codes = await page.evaluate(({ host, clientId }) => {
      const code = (p) => p.then(() => 'resolved', (e) => e.code);
      return Promise.all([code(window.dualauth.ready), code(window.dualauth.token({ host, clientId })), code(window.dualauth.session({ host, clientId }))]);
    }, { host: issuer, clientId: CLIENT_ID });
    assert.deepEqual(codes, ['load_failed', 'load_failed', 'load_failed']);
    assert.match((await errorOf(page)).message, /HTTP 404/);
    await page.close();
  });

  test('a callback whose wasm failed to load is finished by the next load()', async () => {
    const page = await browser.ctx.newPage();
    let asked = 0;
    await page.route('**/dualauth.wasm', (route) => (++asked === 1 ? route.fulfill({ status: 503, body: 'try later' }) : route.continue()));
    await page.goto(`${consoleURL}?code=made-up&state=made-up`);
    await page.waitForSelector('body[data-ready="true"]');
    assert.equal((await errorOf(page)).code, 'load_failed');
    assert.ok(!page.url().includes('code='), 'code removed from the address bar at once');
    // The page tries again: the callback is still there, and this time the
    // core sees it (and rejects its made-up state).
    const code = await page.evaluate(() =>
      import('./dualauth.js')
        .then((m) => m.load())
        .then((auth) => auth.handleRedirect())
        .then(
          (r) => `resolved ${r.status}`,
          (e) => e.code,
        ),
    );
    assert.equal(code, 'state_mismatch');
    assert.equal(asked, 2);
    await page.close();
  });

  test("a load that failed on Go's wasm_exec.js works on the next load()", async () => {
    const page = await browser.ctx.newPage();
    let asked = 0;
    await page.route('**/wasm_exec.js*', (route) => (++asked === 1 ? route.fulfill({ status: 503, body: 'try later' }) : route.continue()));
    await page.goto(`${consoleURL}?host=${encodeURIComponent(issuer)}&client_id=${CLIENT_ID}`);
    await page.waitForSelector('body[data-ready="true"]');
    assert.equal((await errorOf(page)).code, 'load_failed');
    const again = await page.evaluate(() =>
      import('./dualauth.js')
        .then((m) => m.load())
        .then((auth) => auth.ready)
        .then(
          () => 'ready',
          (e) => `${e.code}: ${e.message}`,
        ),
    );
    assert.equal(again, 'ready');
    await page.close();
  });

  test('two copies of dualauth.js run side by side, and a failed load nobody listens to raises no unhandled rejection', async () => {
    const page = await openConsole();
    const got = await page.evaluate(async () => {
      const rejections = [];
      addEventListener('unhandledrejection', (e) => rejections.push(String(e.reason?.code ?? e.reason)));
      const mods = await Promise.all([import('./dualauth.js?copy=1'), import('./dualauth.js?copy=2')]);
      const [a, b] = await Promise.all(mods.map((m) => m.load()));
      const both = await Promise.race([
        Promise.all([a.ready, b.ready]).then(() => 'both ready'),
        new Promise((resolve) => setTimeout(() => resolve('timed out'), 15_000)),
      ]);
      const c = await (await import('./dualauth.js?copy=3')).load({ wasmURL: 'no-such.wasm' });
      c.onChange(() => {});
      const code = await c.token({ host: 'https://idp.example', clientId: 'x' }).then(
        () => 'resolved',
        (e) => e.code,
      );
      await new Promise((resolve) => setTimeout(resolve, 500)); // unhandledrejection is reported after a task or two
      return { both, code, rejections };
    });
    assert.deepEqual(got, { both: 'both ready', code: 'load_failed', rejections: [] });
    await page.close();
  });

  test('a callback page load waits for the wasm: the core checks the state', async () => {
    const page = await browser.ctx.newPage();
    await page.goto(`${consoleURL}?code=made-up&state=made-up`);
    await page.waitForSelector('body[data-ready="true"]');
    assert.equal((await errorOf(page)).code, 'state_mismatch');
    const [handled, ready] = await page.evaluate(() => ['dualauth-handled', 'dualauth-ready'].map((n) => performance.getEntriesByName(n)[0]?.startTime));
    assert.ok(ready !== undefined && handled >= ready, `handled (${handled} ms) after the wasm ran (${ready} ms)`);
    await page.close();
  });
});
