// End-to-end: the MCP TypeScript SDK's example server with OAuth (npm
// @modelcontextprotocol/sdk, simpleStreamableHttp.js --oauth --oauth-strict)
// from the browser target. The example allows CORS on its metadata,
// registration and token endpoints only: its /mcp endpoint and its 404
// pages send no Access-Control-Allow-Origin, so a page on another origin
// can neither discover it by its URL nor call it. This test keeps that
// limit measured (docs/PROVIDERS.md, "MCP servers"), so that a release of
// the example that opens /mcp to pages shows up here.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { after, before, describe, test } from 'node:test';
import { launchBrowser, startProcess } from './harness.mjs';

const EXAMPLE = 'node_modules/@modelcontextprotocol/sdk/dist/esm/examples/server/simpleStreamableHttp.js';

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run scripts/test-e2e-wasm.sh`);
  return v;
};

// freePorts returns n distinct loopback ports that were free: all n probes
// are held open until every port is known, so that no two are the same.
async function freePorts(n) {
  const probes = await Promise.all(
    Array.from({ length: n }, async () => {
      const srv = createServer();
      await new Promise((resolve, reject) => srv.once('error', reject).listen(0, '127.0.0.1', resolve));
      return srv;
    }),
  );
  const ports = probes.map((srv) => srv.address().port);
  await Promise.all(probes.map((srv) => new Promise((resolve) => srv.close(resolve))));
  return ports;
}

// startMCP runs the example on loopback (internal/mcpserver/loopback.mjs
// binds its listen(port) calls to 127.0.0.1) until both servers say they
// listen; stop() kills it by PID. The example puts its ports in its URLs,
// so it cannot listen on port 0: it gets ports that were free, and if
// another process took one meanwhile (the example exits, EADDRINUSE), it
// starts again on new ones, up to 3 times.
async function startMCP(attempt = 1) {
  const [mcpPort, authPort] = await freePorts(2);
  const child = spawn('node', ['--import', './internal/mcpserver/loopback.mjs', EXAMPLE, '--oauth', '--oauth-strict'], {
    env: { ...process.env, MCP_PORT: String(mcpPort), MCP_AUTH_PORT: String(authPort) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // 'close', not 'exit': by then stderr has been read to its end.
  const exited = new Promise((resolve) => child.once('close', resolve));
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  let seen = 0;
  let timer;
  try {
    await Promise.race([
      new Promise((resolve) => {
        createInterface({ input: child.stdout }).on('line', (l) => {
          if (/listening on port/.test(l) && ++seen === 2) resolve();
        });
      }),
      exited.then((code) => {
        throw Object.assign(new Error(`the MCP example exited (${code}) before it listened: ${stderr.slice(-500)}`), { exitedEarly: true });
      }),
      new Promise((_, reject) => (timer = setTimeout(() => reject(new Error('the MCP example did not listen within 20 s')), 20_000))),
    ]);
  } catch (err) {
    if (child.exitCode === null && child.signalCode === null) {
      process.kill(child.pid, 'SIGKILL');
      await exited;
    }
    if (err.exitedEarly && /EADDRINUSE/.test(stderr) && attempt < 3) return startMCP(attempt + 1);
    throw err;
  } finally {
    clearTimeout(timer);
  }
  return {
    url: `http://localhost:${mcpPort}/mcp`,
    metadata: `http://localhost:${mcpPort}/.well-known/oauth-protected-resource/mcp`,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        process.kill(child.pid, 'SIGKILL');
        await exited;
      }
    },
  };
}

describe('the MCP SDK example server from the browser target', { timeout: 120_000 }, () => {
  let serve, mcp, browser, consoleURL;

  before(async () => {
    serve = await startProcess(env('DUALAUTH_SERVE'), ['-addr', '127.0.0.1:0', '-dir', env('DUALAUTH_WEB_DIR'), '-stdin-eof'], { name: 'serve' });
    consoleURL = serve.info.url;
    mcp = await startMCP();
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await mcp?.stop();
    await serve?.stop();
  });

  test('its CORS lets a page read the resource metadata but not call /mcp, so a login by its URL fails with discovery_failed and no navigation', async () => {
    const page = await browser.ctx.newPage();
    page.on('pageerror', (err) => console.error('page error:', err.message));
    await page.goto(consoleURL);
    await page.waitForSelector('body[data-ready="true"]');
    const seen = await page.evaluate(
      async ({ url, metadata }) => {
        const out = {};
        const meta = await fetch(metadata);
        out.metadata = meta.status;
        try {
          await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: 'Bearer x' }, body: '{}' });
          out.mcp = 'answered';
        } catch (err) {
          out.mcp = err.name; // TypeError: blocked by CORS
        }
        try {
          await window.dualauth.login({ host: url });
          out.login = 'navigating';
        } catch (err) {
          out.login = err.code;
          out.why = err.message;
        }
        return out;
      },
      { url: mcp.url, metadata: mcp.metadata },
    );
    const { why, ...codes } = seen;
    assert.deepEqual(codes, { metadata: 200, mcp: 'TypeError', login: 'discovery_failed' });
    assert.match(why, /cannot reach http:\/\/localhost:\d+/); // its first probe, a 404 without CORS
    assert.ok(page.url().startsWith(consoleURL), 'the page stayed');
    await page.close();
  });
});
