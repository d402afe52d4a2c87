// End-to-end: the browser driver never follows a redirect from the
// authorization server. A minimal provider, served by this test on
// 127.0.0.1, answers the code exchange with a 307 (which keeps method and
// body) to a second server on another origin; both allow CORS from
// anywhere, so a browser that followed the redirect would POST the code
// and the PKCE verifier there, and even get a token back.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { launchBrowser, startProcess } from './harness.mjs';

const CLIENT_ID = 'dualauth-console';

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run scripts/test-e2e-wasm.sh`);
  return v;
};

// listen starts an HTTP server on a loopback port; handler gets the request
// and its full body. It resolves to { url, hits, close }.
async function listen(handler) {
  const hits = [];
  const srv = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      hits.push({ method: req.method, path: req.url, body });
      res.setHeader('Access-Control-Allow-Origin', '*');
      if (req.method === 'OPTIONS') {
        res.setHeader('Access-Control-Allow-Methods', 'GET, POST');
        res.setHeader('Access-Control-Allow-Headers', '*');
        res.writeHead(204).end();
        return;
      }
      handler(req, res, body);
    });
  });
  await new Promise((resolve) => srv.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${srv.address().port}`,
    hits,
    close: () =>
      new Promise((resolve) => {
        srv.closeAllConnections();
        srv.close(resolve);
      }),
  };
}

const json = (res, status, v) => {
  res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(v));
};

// withPage runs fn on a new tab and closes the tab whatever happens.
async function withPage(browser, fn) {
  const page = await browser.ctx.newPage();
  page.on('pageerror', (err) => console.error('page error:', err.message));
  try {
    await fn(page);
  } finally {
    await page.close();
  }
}

describe('redirects from the authorization server', { timeout: 120_000 }, () => {
  let serve, browser, consoleURL, provider, elsewhere;

  before(async () => {
    serve = await startProcess(env('DUALAUTH_SERVE'), ['-addr', '127.0.0.1:0', '-dir', env('DUALAUTH_WEB_DIR'), '-stdin-eof'], { name: 'serve' });
    consoleURL = serve.info.url;
    // Where the redirect points: it answers like a token endpoint.
    elsewhere = await listen((req, res) => json(res, 200, { access_token: 'stolen', token_type: 'Bearer', expires_in: 3600 }));
    provider = await listen((req, res) => {
      const u = new URL(req.url, provider.url);
      if (req.method === 'GET' && u.pathname === '/.well-known/openid-configuration') {
        json(res, 200, {
          issuer: provider.url,
          authorization_endpoint: `${provider.url}/authorize`,
          token_endpoint: `${provider.url}/token`,
          code_challenge_methods_supported: ['S256'],
        });
      } else if (req.method === 'GET' && u.pathname === '/authorize') {
        // Signs in at once: back to the console with a code.
        const back = new URL(u.searchParams.get('redirect_uri'));
        back.searchParams.set('code', 'the-code');
        back.searchParams.set('state', u.searchParams.get('state'));
        res.writeHead(302, { Location: back.href }).end();
      } else if (req.method === 'POST' && u.pathname === '/token') {
        res.writeHead(307, { Location: `${elsewhere.url}/token` }).end();
      } else {
        res.writeHead(404).end();
      }
    });
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await provider?.close();
    await elsewhere?.close();
    await serve?.stop();
  });

  test('a 307 from the token endpoint is not followed: the code and verifier go nowhere else, and the login fails with unexpected_redirect', () =>
    withPage(browser, async (page) => {
      await page.goto(`${consoleURL}?host=${encodeURIComponent(provider.url)}&client_id=${CLIENT_ID}`);
      await page.waitForSelector('body[data-ready="true"]');
      // The provider signs in at once: the next page load is the callback.
      const back = page.waitForEvent('load');
      await page.click('#login');
      await back;
      await page.waitForSelector('body[data-ready="true"]');

      const err = await page.evaluate(() => ({ code: document.getElementById('error').dataset.code ?? null, message: document.getElementById('error-message').textContent }));
      const exchanges = provider.hits.filter((h) => h.method === 'POST' && h.path === '/token');
      assert.equal(exchanges.length, 1, 'the token endpoint got the code exchange once');
      assert.match(exchanges[0].body, /code_verifier=/);
      assert.deepEqual(elsewhere.hits, [], 'the redirect target never received a request');
      assert.equal(err.code, 'unexpected_redirect');
      assert.match(err.message, /answered with a redirect/);
      assert.equal(await page.locator('#status').textContent(), 'Signed out');
    }));

  test('without scopes the console asks an OpenID provider for the default openid offline_access', () =>
    withPage(browser, async (page) => {
      await page.goto(`${consoleURL}?host=${encodeURIComponent(provider.url)}&client_id=${CLIENT_ID}`);
      await page.waitForSelector('body[data-ready="true"]');
      assert.equal(await page.inputValue('#scopes'), '', 'the field is left empty: the host decides');
      const authorize = page.waitForRequest((r) => r.url().startsWith(`${provider.url}/authorize?`));
      // The provider signs in at once: let the callback page finish (its
      // exchange fails on the 307) before the tab is closed. Closing it in
      // the middle of that load made page.close() take ~2 minutes in 1 of
      // 5 runs here.
      const back = page.waitForEvent('load');
      await page.click('#login');
      assert.equal(new URL((await authorize).url()).searchParams.get('scope'), 'openid offline_access');
      await back;
      await page.waitForSelector('body[data-ready="true"]');
      await page.waitForSelector('#error[data-code]', { state: 'attached' });
    }));
});
