// End-to-end: the dev console in headless Chromium against a hostile
// authorization server (a small one in this process, on 127.0.0.1) and a
// damaged stored login. Each refusal the docs describe comes back with its
// stable code from dualauth.d.ts; server text reaches the page only through
// the core's sanitiser, as text nodes; a stored login that cannot be read is
// reported as such and removed by logout().
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { launchBrowser, poll, startProcess } from './harness.mjs';
import { json, listen, startNodeOP } from './nodeop.mjs';

const CLIENT_ID = 'console';
const RAW_CONTROLS = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;
// Every control, format (bidi, zero-width) and line/paragraph separator.
const RAW_ANY = /[\p{Cc}\p{Cf}\u2028\u2029]/u;

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run scripts/test-e2e-wasm.sh`);
  return v;
};

let serve, browser, consoleURL, op, opBase, other, otherSeen;

async function openConsole(host, extra = '', clientId = CLIENT_ID) {
  const page = await browser.ctx.newPage();
  page.on('pageerror', (err) => console.error('page error:', err.message));
  await page.goto(`${consoleURL}?host=${encodeURIComponent(host)}&client_id=${clientId}${extra}`);
  await page.waitForSelector('body[data-ready="true"]');
  return page;
}

// refusal calls fn(arg) in the page (an expression, as DevTools evaluates
// it) and returns the rejection's code and message, or null if it resolved.
const refusal = (page, fn, arg) =>
  page.evaluate(`(${fn.toString()})(${JSON.stringify(arg)}).then(() => null, (e) => ({ code: e.code, message: e.message }))`);

const errorOf = (page) =>
  page.evaluate(() => ({ code: document.getElementById('error').dataset.code ?? null, message: document.getElementById('error-message').textContent }));

// signIn clicks "Log in" and waits until the console has handled the callback.
async function signIn(page) {
  const callback = page.waitForRequest((r) => r.isNavigationRequest() && r.url().startsWith(consoleURL) && /[?&](code|error)=/.test(r.url()));
  // The server answers /auth with a 302 straight back, so the tab's URL
  // already matches consoleURL and the old document is loaded and ready:
  // clear its mark, so that only the document of the callback can set it.
  await page.evaluate(() => delete document.body.dataset.ready);
  await page.click('#login');
  await callback;
  await page.waitForSelector('body[data-ready="true"]');
}

describe('refusals, server text and a damaged login in Chromium', { timeout: 120_000 }, () => {
  before(async () => {
    serve = await startProcess(env('DUALAUTH_SERVE'), ['-addr', '127.0.0.1:0', '-dir', env('DUALAUTH_WEB_DIR'), '-stdin-eof'], { name: 'serve' });
    consoleURL = serve.info.url;
    op = await startNodeOP();
    opBase = op.base;
    otherSeen = [];
    other = await listen((req, res) => {
      otherSeen.push(`${req.method} ${req.url} ${req.headers.authorization ?? ''}`);
      if (req.method === 'OPTIONS') {
        // Lets any header through CORS, so that what arrives is what the
        // browser chose to send.
        res.writeHead(204, { 'Access-Control-Allow-Origin': '*', 'Access-Control-Allow-Headers': 'authorization, dpop, content-type', 'Access-Control-Allow-Methods': '*' });
        return res.end();
      }
      json(res, 200, {});
    });
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await op?.close();
    await new Promise((r) => (other ? other.close(r) : r()));
    await serve?.stop();
  });

  test('a javascript: authorization endpoint in metadata is refused with insecure_url, and the page goes nowhere', async () => {
    const host = `${opBase}/js`;
    const page = await openConsole(host);
    const r = await refusal(page, (h) => window.dualauth.login({ host: h, clientId: 'console' }), host);
    assert.equal(r?.code, 'insecure_url');
    assert.ok(!r.message.includes('alert'), r.message);
    assert.ok(page.url().startsWith(consoleURL));
    assert.equal(await page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith('dualauth.v1.pending.')).length), 0);
    await page.close();
  });

  test("dpop: 'always' against a server without dpop_signing_alg_values_supported is refused with dpop_unsupported before the redirect", async () => {
    const host = `${opBase}/nodpop`;
    const page = await openConsole(host, '&dpop=always');
    const before = op.seen.length;
    await page.click('#login');
    await poll(async () => (await errorOf(page)).code, { what: 'the error box' });
    const err = await errorOf(page);
    assert.equal(err.code, 'dpop_unsupported');
    assert.match(err.message, /auto or never/);
    assert.ok(page.url().startsWith(consoleURL), 'still on the console');
    assert.ok(!op.seen.slice(before).some((s) => s.endsWith('/nodpop/auth')), 'no authorization request');
    const keys = await page.evaluate(
      () =>
        new Promise((resolve, reject) => {
          const open = indexedDB.open('dualauth');
          open.onerror = () => reject(open.error);
          open.onsuccess = () => {
            const db = open.result;
            if (!db.objectStoreNames.contains('keys')) return resolve(0);
            const req = db.transaction('keys').objectStore('keys').count();
            req.onsuccess = () => resolve(req.result);
          };
        }),
    );
    assert.equal(keys, 0, 'no DPoP key was made');
    await page.close();
  });

  test('an error_description with ESC, BEL, CR LF and U+202E is shown escaped, as text', async () => {
    const page = await openConsole(`${opBase}/deny`);
    await signIn(page);
    const err = await errorOf(page);
    assert.equal(err.code, 'access_denied');
    assert.ok(!RAW_CONTROLS.test(err.message), JSON.stringify(err.message));
    assert.ok(err.message.includes('Mallory\\u202egnp.exe\\x1b[31m'), err.message);
    assert.equal(await page.locator('#error *:not(strong):not(span):not(button)').count(), 0, 'no element from server text');
    await page.close();
  });

  test('ID-token claims with controls and U+202E are shown escaped under "Signed in as" and in the claims', async () => {
    const host = `${opBase}/evil`;
    const page = await openConsole(host);
    await signIn(page);
    assert.equal(await page.locator('#status').textContent(), 'Signed in');
    const who = await page.locator('#signed-in-as').textContent();
    assert.ok(!RAW_CONTROLS.test(who), JSON.stringify(who));
    assert.ok(who.startsWith('Mallory\\u202egnp.exe\\x1b[31m\\x1b]8;;https://evil.example\\a'), who);
    const claims = await page.locator('#id-claims').textContent();
    assert.ok(!RAW_CONTROLS.test(claims.replace(/\n/g, '')), 'no raw control in the claims');
    assert.ok(!claims.includes('\\u001b') && !claims.includes('\u202e'));
    // Through the API too: names and values of every claim.
    const s = await page.evaluate(({ h }) => window.dualauth.session({ host: h, clientId: 'console' }), { h: host });
    for (const [k, v] of Object.entries(s.claims)) {
      assert.ok(!RAW_CONTROLS.test(k) && !(typeof v === 'string' && RAW_CONTROLS.test(v)), `claim ${JSON.stringify(k)}`);
    }
    await page.close();
  });

  test('access-token claims and granted scopes with controls, U+2028 and bidi are shown escaped', async () => {
    const host = `${opBase}/evil`;
    const page = await openConsole(host); // signed in by the last test
    assert.equal(await page.locator('#status').textContent(), 'Signed in');
    await page.click('#get-token');
    await poll(async () => (await page.locator('#access-claims').textContent()).includes('note'), { what: 'the access-token claims' });
    const claims = await page.locator('#access-claims').textContent();
    assert.ok(!RAW_ANY.test(claims.replace(/\n/g, '')), JSON.stringify(claims));
    assert.ok(claims.includes('\\u202e') && claims.includes('\\u2028') && claims.includes('\\u0085'), claims);
    // session() and the page's Scopes row: the granted scope is server text.
    const s = await page.evaluate(({ h }) => window.dualauth.session({ host: h, clientId: 'console' }), { h: host });
    for (const k of ['scopes', 'issuer', 'host', 'clientId']) assert.ok(!RAW_CONTROLS.test(s[k]), `${k}: ${JSON.stringify(s[k])}`);
    assert.ok(s.scopes.includes('Mallory\\u202egnp.exe'), s.scopes);
    assert.ok(!RAW_CONTROLS.test(await page.locator('#granted-scopes').textContent()));
    await page.close();
  });

  test("a server's OAuth error code outside RFC 6749's charset reaches the page as server_error (callback and token endpoint)", async () => {
    for (const tenant of ['evilcode', 'eviltoken']) {
      const page = await openConsole(`${opBase}/${tenant}`);
      await signIn(page);
      await poll(async () => (await errorOf(page)).code, { what: 'the error box' });
      const err = await errorOf(page);
      assert.equal(err.code, 'server_error', tenant);
      assert.ok(!RAW_CONTROLS.test(err.message), JSON.stringify(err.message));
      assert.ok(!RAW_CONTROLS.test(await page.locator('#error-code').textContent()));
      await page.close();
    }
  });

  test('metadata that sends the sign-in to another origin is refused with mix_up, and the page goes nowhere', async () => {
    const host = `${opBase}/mixup`;
    const page = await openConsole(host);
    const r = await refusal(page, (h) => window.dualauth.login({ host: h, clientId: 'console' }), host);
    assert.equal(r?.code, 'mix_up');
    assert.ok(page.url().startsWith(consoleURL));
    assert.ok(!op.seen.includes('GET /mixup/auth'), 'no authorization request');
    await page.close();
  });

  test('a token with a control character is refused with token_charset and nothing is stored', async () => {
    const host = `${opBase}/charset`;
    const page = await openConsole(host);
    await signIn(page);
    await poll(async () => (await errorOf(page)).code, { what: 'the error box' });
    assert.equal((await errorOf(page)).code, 'token_charset');
    const tok = await refusal(page, (h) => window.dualauth.token({ host: h, clientId: 'console' }), host);
    assert.equal(tok?.code, 'not_logged_in');
    await page.close();
  });

  test("a warning with server text (an unreachable revocation endpoint) reaches the console escaped", async () => {
    const host = `${opBase}/revoke`;
    const page = await openConsole(host);
    const warned = [];
    page.on('console', (m) => m.type() === 'warning' && warned.push(m.text()));
    await signIn(page);
    assert.equal(await page.locator('#status').textContent(), 'Signed in');
    const r = await page.evaluate(({ h }) => window.dualauth.logout({ host: h, clientId: 'console' }), { h: host });
    assert.equal(r.removed, true);
    await poll(async () => warned.some((w) => w.includes('revoke')), { what: 'the warning' });
    const w = warned.find((x) => x.includes('revoke'));
    assert.ok(!RAW_ANY.test(w), JSON.stringify(w));
    assert.ok(w.includes('re\\u202evoke'), w);
    await page.close();
  });

  test('dualauth.fetch to another origin than the login is refused with wrong_origin and nothing is sent there', async () => {
    const host = `${opBase}/evil`;
    const page = await openConsole(host); // signed in by the last test
    assert.equal(await page.locator('#status').textContent(), 'Signed in');
    const target = `http://127.0.0.1:${other.address().port}/steal`;
    const r = await refusal(page, ({ h, t }) => window.dualauth.fetch(t, {}, { host: h, clientId: 'console' }), { h: host, t: target });
    assert.equal(r?.code, 'wrong_origin');
    assert.deepEqual(otherSeen, [], 'the other origin got no request, let alone the token');
    await page.close();
  });

  test('protected-resource metadata naming another resource than the URL is refused with resource_mismatch, and the page goes nowhere', async () => {
    const host = `${opBase}/resmis`;
    const page = await openConsole(host);
    const before = op.seen.length;
    const r = await refusal(page, (h) => window.dualauth.login({ host: h, clientId: 'console' }), host);
    assert.equal(r?.code, 'resource_mismatch', r?.message);
    assert.ok(op.seen.slice(before).includes('GET /.well-known/oauth-protected-resource/resmis'), 'the metadata was read');
    assert.ok(!op.seen.slice(before).some((s) => s.endsWith('/evil/auth')), 'no authorization request');
    assert.ok(page.url().startsWith(consoleURL));
    await page.close();
  });

  test('metadata, a registration, a token response and a refresh answer over 1 MiB are refused with response_too_large', async () => {
    const host = `${opBase}/big`;
    let page = await openConsole(host);
    const r = await refusal(page, (h) => window.dualauth.login({ host: h, clientId: 'console' }), host);
    assert.equal(r?.code, 'response_too_large', r?.message);
    assert.ok(page.url().startsWith(consoleURL));
    const reg = await refusal(page, (h) => window.dualauth.login({ host: h }), `${opBase}/bigreg`);
    assert.equal(reg?.code, 'response_too_large', reg?.message);
    assert.ok(op.seen.includes('POST /bigreg/register'));
    assert.ok(page.url().startsWith(consoleURL));
    await page.close();
    page = await openConsole(`${opBase}/bigtoken`);
    await signIn(page);
    await poll(async () => (await errorOf(page)).code, { what: 'the error box' });
    assert.equal((await errorOf(page)).code, 'response_too_large');
    const tok = await refusal(page, (h) => window.dualauth.token({ host: h, clientId: 'console' }), `${opBase}/bigtoken`);
    assert.equal(tok?.code, 'not_logged_in', 'nothing of the answer was kept');
    await page.close();
    const rhost = `${opBase}/bigrefresh`;
    page = await openConsole(rhost);
    await signIn(page);
    assert.equal(await page.locator('#status').textContent(), 'Signed in');
    const ref = await refusal(page, (h) => window.dualauth.token({ host: h, clientId: 'console' }), rhost); // expired: a refresh
    assert.equal(ref?.code, 'response_too_large', ref?.message);
    await page.close();
  });

  test('a login with no client ID at a server without registration is refused with no_client, and the page goes nowhere', async () => {
    const host = `${opBase}/noreg`;
    const page = await openConsole(host, '', '');
    const r = await refusal(page, (h) => window.dualauth.login({ host: h }), host);
    assert.equal(r?.code, 'no_client', r?.message);
    assert.ok(page.url().startsWith(consoleURL));
    assert.ok(!op.seen.includes('GET /noreg/auth'), 'no authorization request');
    await page.close();
  });

  test('a registered client the token endpoint refuses with invalid_client is client_forgotten, and the next login registers anew', async () => {
    const host = `${opBase}/forgot`;
    const page = await openConsole(host, '', ''); // no client ID: the console registers one
    await signIn(page);
    await poll(async () => (await errorOf(page)).code, { what: 'the error box' });
    const err = await errorOf(page);
    assert.equal(err.code, 'client_forgotten', err.message);
    assert.match(err.message, /registers a new client/);
    const registrations = () => op.seen.filter((s) => s === 'POST /forgot/register').length;
    assert.equal(registrations(), 1);
    // The registration was dropped: the next login registers another client.
    await signIn(page);
    await poll(async () => (await errorOf(page)).code, { what: 'the error box' });
    assert.equal((await errorOf(page)).code, 'client_forgotten');
    assert.equal(registrations(), 2);
    await page.close();
  });

  test("a bearer dualauth.fetch that the login's API 307-redirects to another origin: Chromium follows it without the Authorization header", async () => {
    const host = `${opBase}/evil`;
    const page = await openConsole(host); // signed in by the earlier tests
    assert.equal(await page.locator('#status').textContent(), 'Signed in');
    const from = otherSeen.length;
    const target = `http://127.0.0.1:${other.address().port}/redirected`;
    const r = await page.evaluate(
      ({ h, u }) => window.dualauth.fetch(u, {}, { host: h, clientId: 'console' }).then((res) => ({ status: res.status, url: res.url, redirected: res.redirected })),
      { h: host, u: `${opBase}/evil/away?to=${encodeURIComponent(target)}` },
    );
    const seen = otherSeen.slice(from);
    assert.match(op.away.at(-1) ?? '', /^Bearer \S+$/, 'the API itself got the token');
    assert.equal(r.status, 200, JSON.stringify(r));
    assert.equal(r.url, target);
    assert.ok(seen.some((x) => x.startsWith('GET /redirected')), `the redirect was followed: ${JSON.stringify(seen)}`);
    assert.ok(seen.every((x) => x.endsWith(' ')), `no Authorization at the other origin: ${JSON.stringify(seen)}`);
    await page.close();
  });

  test('a stored login that cannot be read: stored_login_unreadable, and the console removes it', async () => {
    const host = `${opBase}/evil`;
    let page = await openConsole(host);
    assert.equal(await page.locator('#status').textContent(), 'Signed in');
    const key = `${host} ${CLIENT_ID}`;
    // Garbage in the login's IndexedDB entry (another program, a bad write).
    await page.evaluate(
      (key) =>
        new Promise((resolve, reject) => {
          const open = indexedDB.open('dualauth');
          open.onsuccess = () => {
            const tx = open.result.transaction('tokens', 'readwrite');
            tx.objectStore('tokens').put('{"access_token":"at-evil", garbage', key);
            tx.oncomplete = () => {
              open.result.close();
              resolve();
            };
            tx.onerror = () => reject(tx.error);
          };
        }),
      key,
    );
    await page.reload();
    await page.waitForSelector('body[data-ready="true"]');
    assert.equal(await page.locator('#status').textContent(), 'Stored login unreadable');
    const err = await errorOf(page);
    assert.equal(err.code, 'stored_login_unreadable');
    assert.match(err.message, /logout\(\) removes it/);
    assert.ok(!err.message.includes('at-evil'), 'the message holds nothing of the entry');
    const tok = await refusal(page, (h) => window.dualauth.token({ host: h, clientId: 'console' }), host);
    assert.equal(tok?.code, 'stored_login_unreadable');
    assert.ok(await page.locator('#remove-login').isVisible(), 'the way out is offered');

    await page.click('#remove-login');
    await poll(async () => (await page.locator('#status').textContent()) === 'Signed out', { what: 'signed out' });
    assert.ok(!(await page.locator('#remove-login').isVisible()));
    const gone = await refusal(page, (h) => window.dualauth.token({ host: h, clientId: 'console' }), host);
    assert.equal(gone?.code, 'not_logged_in');
    await page.close();
    page = await openConsole(host);
    assert.equal(await page.locator('#status').textContent(), 'Signed out');
    await page.close();
  });
  // Last: it leaves this origin's database unusable for dualauth.
  test('an IndexedDB that cannot be opened (a newer version of the database in this origin) is refused with storage_unavailable', async () => {
    const host = `${opBase}/evil`;
    const page = await openConsole(host);
    await signIn(page);
    assert.equal(await page.locator('#status').textContent(), 'Signed in');
    // Another program of this origin (or a later dualauth) upgrades the
    // database: dualauth's connection is closed (versionchange) and its
    // version can no longer be opened (VersionError).
    await page.evaluate(
      () =>
        new Promise((resolve, reject) => {
          const open = indexedDB.open('dualauth', 1000);
          open.onerror = () => reject(open.error);
          open.onsuccess = () => {
            open.result.close();
            resolve();
          };
        }),
    );
    const tok = await refusal(page, (h) => window.dualauth.token({ host: h, clientId: 'console' }), host);
    assert.equal(tok?.code, 'storage_unavailable', tok?.message);
    assert.ok(!tok.message.includes('at-evil'), tok.message);
    await page.close();
  });
});
