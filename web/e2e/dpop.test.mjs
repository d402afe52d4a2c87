// End-to-end DPoP (RFC 9449) in the browser: the dev console in headless
// Chromium logs in by an API's URL to oidc-provider with DPoP and server
// nonces required, and calls the API — a resource of ours that takes
// DPoP-bound tokens only and checks every proof — with dualauth.fetch.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { launchBrowser, startProcess } from './harness.mjs';

const CLIENT_ID = 'dualauth-web-dpop';

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run scripts/test-e2e-wasm.sh`);
  return v;
};

let serve, op, api, browser, consoleURL, issuer, apiURL, apiOrigin;

const stats = async () => (await fetch(`${apiOrigin}/_test/stats`)).json();

// signIn opens the console in mode ('page' or 'worker') and logs in by the
// API's URL through oidc-provider's development login and consent pages.
async function signIn(mode) {
  const page = await browser.ctx.newPage();
  page.on('pageerror', (err) => console.error('page error:', err.message));
  await page.goto(`${consoleURL}?host=${encodeURIComponent(apiURL)}&client_id=${CLIENT_ID}&dpop=auto&mode=${mode}`);
  await page.waitForSelector('body[data-ready="true"]');
  const authorize = page.waitForRequest((r) => r.isNavigationRequest() && r.url().startsWith(`${issuer}/auth?`));
  await page.click('#login');
  // openid and offline_access asked of an OpenID provider: prompt=consent
  // (OpenID Connect Core §11), also when its metadata was read at the RFC
  // 8414 address, as for this API's server. So the provider shows a page
  // even with the session and grant of an earlier test in this profile;
  // without it, it would answer at once and the wait below would time out.
  assert.equal(new URL((await authorize).url()).searchParams.get('prompt'), 'consent');
  await page.waitForURL((u) => u.href.startsWith(issuer));
  // The login form (unless the provider's session remains from an earlier
  // test), then the consent form.
  if ((await page.locator('input[name="login"]').count()) > 0) {
    await page.fill('input[name="login"]', 'browser-user');
    await page.fill('input[name="password"]', 'any');
    await page.click('button[type="submit"]');
    await page.waitForURL((u) => u.href.startsWith(consoleURL) || u.href.includes('/interaction/'));
  }
  if (!page.url().startsWith(consoleURL)) {
    await Promise.all([page.waitForURL((u) => u.href.startsWith(consoleURL)), page.click('button[type="submit"]')]);
  }
  await page.waitForSelector('body[data-ready="true"]');
  const err = await page.evaluate(() => document.getElementById('error-message').textContent);
  assert.equal(await page.locator('#status').textContent(), 'Signed in', `console error: ${err}`);
  assert.equal(await page.evaluate(() => document.body.dataset.mode), mode);
  return page;
}

describe('DPoP in Chromium against oidc-provider and a strict resource', { timeout: 180_000 }, () => {
  before(async () => {
    serve = await startProcess(env('DUALAUTH_SERVE'), ['-addr', '127.0.0.1:0', '-dir', env('DUALAUTH_WEB_DIR'), '-stdin-eof'], { name: 'serve' });
    consoleURL = serve.info.url;
    const origin = new URL(consoleURL).origin;
    // The console's client: public, for this page, bound to DPoP.
    process.env.DEVICEOP_M2M = JSON.stringify({
      clients: [
        {
          client_id: CLIENT_ID,
          application_type: 'web',
          token_endpoint_auth_method: 'none',
          grant_types: ['authorization_code', 'refresh_token'],
          response_types: ['code'],
          redirect_uris: [consoleURL],
          dpop_bound_access_tokens: true,
        },
      ],
    });
    process.env.DEVICEOP_URL = '1';
    process.env.DEVICEOP_DPOP = '1';
    op = await startProcess('node', ['native/testdata/device-op.mjs'], { name: 'device-op' });
    issuer = op.info.issuer;
    api = await startProcess(env('DUALAUTH_DPOPAPI'), ['-issuer', issuer, '-cors', origin], { name: 'dpopapi' });
    apiURL = api.info.url;
    apiOrigin = api.info.origin;
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await api?.stop();
    await op?.stop();
    await serve?.stop();
  });

  test('a login by the API URL binds its tokens to a non-extractable key, and dualauth.fetch gets through the strict resource', async () => {
    const page = await signIn('page');
    const tok = await page.evaluate((host) => window.dualauth.token({ host }), apiURL);
    assert.equal(tok.token_type, 'DPoP');

    // The stored private key: a CryptoKey that cannot be exported.
    const key = await page.evaluate(
      () =>
        new Promise((resolve, reject) => {
          const open = indexedDB.open('dualauth');
          open.onerror = () => reject(open.error);
          open.onsuccess = () => {
            const st = open.result.transaction('keys', 'readonly').objectStore('keys');
            const all = st.getAll();
            all.onsuccess = async () => {
              open.result.close();
              const keys = all.result;
              const k = keys[0];
              let exported = 'yes';
              try {
                await crypto.subtle.exportKey('pkcs8', k);
              } catch (e) {
                exported = e.name;
              }
              resolve({
                count: keys.length,
                isCryptoKey: k instanceof CryptoKey,
                extractable: k.extractable,
                type: k.type,
                alg: k.algorithm.name + ' ' + k.algorithm.namedCurve,
                exported,
              });
            };
          };
        }),
    );
    assert.deepEqual(key, { count: 1, isCryptoKey: true, extractable: false, type: 'private', alg: 'ECDSA P-256', exported: 'InvalidAccessError' });
    // Nothing that could rebuild it in the entries (IndexedDB "tokens") or
    // in localStorage: every stored value parsed, searched for a private
    // JWK member "d" or a PEM key.
    const leaks = await page.evaluate(
      () =>
        new Promise((resolve, reject) => {
          const values = Object.keys(localStorage).map((k) => localStorage.getItem(k));
          const open = indexedDB.open('dualauth');
          open.onerror = () => reject(open.error);
          open.onsuccess = () => {
            const all = open.result.transaction('tokens', 'readonly').objectStore('tokens').getAll();
            all.onsuccess = () => {
              open.result.close();
              values.push(...all.result);
              const found = [];
              let entries = 0;
              const walk = (v, path) => {
                if (typeof v === 'string') {
                  if (v.includes('PRIVATE KEY')) found.push(path);
                  try {
                    const j = JSON.parse(v);
                    if (j !== null && typeof j === 'object') walk(j, path + '>');
                  } catch {}
                } else if (v !== null && typeof v === 'object') {
                  if ('dpop' in v && v.dpop && v.dpop.jkt) entries++;
                  for (const [k, x] of Object.entries(v)) {
                    if (k === 'd') found.push(path + '.d');
                    walk(x, path + '.' + k);
                  }
                }
              };
              values.forEach((v, i) => walk(v, `#${i}`));
              resolve({ found, entries });
            };
          };
        }),
    );
    assert.ok(leaks.entries >= 1, 'the search saw the DPoP login entry');
    assert.deepEqual(leaks.found, [], 'no private JWK or PEM key stored');

    // dualauth.fetch: the first proof has no nonce, the API asks for one,
    // the one retry carries it.
    const before = await stats();
    const r = await page.evaluate(async (url) => {
      const res = await window.dualauth.fetch(`${url}/items?page=2`, { method: 'POST', body: '{}', headers: { 'Content-Type': 'application/json' } }, { host: url });
      return { status: res.status, body: await res.json() };
    }, apiURL);
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, { ok: true, method: 'POST', path: '/api/items' });
    const after1 = await stats();
    assert.equal(after1.accepted - before.accepted, 1);
    assert.equal(after1.use_dpop_nonce - before.use_dpop_nonce, 1);

    // The console's "Call an API" panel goes through dualauth.fetch too.
    await page.fill('#api-url', `${apiURL}/panel`);
    await page.click('#api-send');
    await page.waitForFunction(() => document.getElementById('api-status').textContent.startsWith('HTTP'));
    assert.match(await page.locator('#api-status').textContent(), /^HTTP 200/);
    assert.equal((await stats()).accepted, after1.accepted + 1);

    // The page keeps the API's nonce: the next call's first proof carries
    // it, with no 401 round trip.
    const before2 = await stats();
    const again = await page.evaluate(async (url) => (await window.dualauth.fetch(`${url}/again`, {}, { host: url })).status, apiURL);
    assert.equal(again, 200);
    const after2 = await stats();
    assert.equal(after2.accepted - before2.accepted, 1);
    assert.equal(after2.refused - before2.refused, 0);

    // The nonce is kept with the login (core's KeepNonces, as natively),
    // not in the page's memory: a reloaded page proves with it at once.
    await page.reload();
    await page.waitForSelector('body[data-ready="true"]');
    const reloaded = await page.evaluate(async (url) => (await window.dualauth.fetch(`${url}/reloaded`, {}, { host: url })).status, apiURL);
    assert.equal(reloaded, 200);
    const after3 = await stats();
    assert.equal(after3.accepted - after2.accepted, 1);
    assert.equal(after3.refused - after2.refused, 0, 'the first proof after a reload carries the kept nonce');
    assert.equal(after3.use_dpop_nonce - after2.use_dpop_nonce, 0);

    // A URL inside the login's resource finds the login by itself
    // (core.LoginForURL): no options at all.
    const byURL = await page.evaluate(async (url) => (await window.dualauth.fetch(`${url}/by-url`)).status, apiURL);
    assert.equal(byURL, 200);
    assert.equal((await stats()).accepted, after3.accepted + 1);
    const outside = await page.evaluate(async (url) => {
      try {
        await window.dualauth.fetch(url.replace('/api', '/elsewhere'));
        return 'sent';
      } catch (e) {
        return e.code;
      }
    }, apiURL);
    assert.equal(outside, 'invalid_argument'); // no login's resource contains it: nothing sent

    // A redirect is not followed with a proof made for another URL: the
    // caller gets it; and the token never goes to another origin.
    const moved = await page.evaluate(async (url) => (await window.dualauth.fetch(url.replace('/api', '/api/moved') + '/x', {}, { host: url })).type, apiURL);
    assert.equal(moved, 'opaqueredirect');
    const foreign = await page.evaluate(async (url) => {
      try {
        await window.dualauth.fetch('/not-the-api', {}, { host: url });
        return 'sent';
      } catch (e) {
        return e.message;
      }
    }, apiURL);
    assert.match(foreign, /is not on .*, the origin of this login/);

    // The token alone, as a bearer token, is refused.
    const bearer = await fetch(apiURL, { headers: { Authorization: `Bearer ${tok.access_token}` } });
    assert.equal(bearer.status, 401);
    assert.equal((await stats()).bearer, 1);
    await page.close();
  });

  test('in the worker mode a DPoP login is bound the same, refreshes with a proof, and dualauth.fetch gets through the strict resource', async () => {
    const page = await signIn('worker');
    const tok = await page.evaluate((host) => window.dualauth.token({ host }), apiURL);
    assert.equal(tok.token_type, 'DPoP');
    // The worker's key: a non-extractable CryptoKey in its own database.
    const key = await page.evaluate(
      () =>
        new Promise((resolve, reject) => {
          const open = indexedDB.open('dualauth-worker');
          open.onerror = () => reject(open.error);
          open.onsuccess = () => {
            const all = open.result.transaction('keys', 'readonly').objectStore('keys').getAll();
            all.onsuccess = () => {
              open.result.close();
              const k = all.result.at(-1);
              resolve({ isCryptoKey: k instanceof CryptoKey, extractable: k.extractable, type: k.type });
            };
          };
        }),
    );
    assert.deepEqual(key, { isCryptoKey: true, extractable: false, type: 'private' });
    const call = () =>
      page.evaluate(async (url) => {
        const res = await window.dualauth.fetch(`${url}/items`, { method: 'POST', body: '{}', headers: { 'Content-Type': 'application/json' } }, { host: url });
        return { status: res.status, body: await res.json() };
      }, apiURL);
    const before = await stats();
    assert.deepEqual(await call(), { status: 200, body: { ok: true, method: 'POST', path: '/api/items' } });
    // A refresh (with a proof: the client is bound) and a call with the new token.
    const fresh = await page.evaluate((host) => window.dualauth.token({ host, forceRefresh: true }), apiURL);
    assert.equal(fresh.token_type, 'DPoP');
    assert.notEqual(fresh.access_token, tok.access_token);
    assert.equal((await call()).status, 200);
    assert.equal((await stats()).accepted - before.accepted, 2);
    // A redirect not followed (the request has a proof) says so as in the
    // page mode: type opaqueredirect, not a bare network error.
    const moved = await page.evaluate(async (url) => {
      const r = await window.dualauth.fetch(url.replace('/api', '/api/moved') + '/x', {}, { host: url });
      return { type: r.type, status: r.status };
    }, apiURL);
    assert.deepEqual(moved, { type: 'opaqueredirect', status: 0 });
    await page.close();
  });
});
