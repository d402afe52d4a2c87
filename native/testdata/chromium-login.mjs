// BROWSER helper for tests: `node chromium-login.mjs URL` opens URL in
// headless Chromium (Debian's, through playwright-core), signs in through
// the test provider's login form, waits for the loopback callback page,
// and writes what it saw as JSON to $DUALAUTH_TEST_RESULT.
//
// auth runs BROWSER without waiting for it, so this script must tidy up on
// its own: it closes Chromium and removes its temp profile before exiting,
// and writes its PID to $DUALAUTH_TEST_PIDFILE so a test can kill it.
import { chromium } from 'playwright-core';
import { execSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const url = process.argv[2];
const resultFile = process.env.DUALAUTH_TEST_RESULT;
const username = process.env.DUALAUTH_TEST_USER || 'test-user@127.0.0.1';
const password = process.env.DUALAUTH_TEST_PASSWORD || 'verysecure';
if (process.env.DUALAUTH_TEST_PIDFILE) fs.writeFileSync(process.env.DUALAUTH_TEST_PIDFILE, String(process.pid));

function write(result) {
  if (resultFile) fs.writeFileSync(resultFile + '.tmp', JSON.stringify(result));
  if (resultFile) fs.renameSync(resultFile + '.tmp', resultFile);
}

const executablePath = process.env.CHROMIUM_PATH || execSync('command -v chromium', { shell: '/bin/sh' }).toString().trim();
const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'dualauth-chromium-'));
let context;
try {
  context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    env: { ...process.env, HOME: profile, XDG_CONFIG_HOME: profile, XDG_CACHE_HOME: profile, XDG_DATA_HOME: profile },
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost',
    ],
  });
  const page = context.pages()[0] || await context.newPage();
  await page.goto(url, { timeout: 20000 });
  await page.fill('#username', username);
  await page.fill('#password', password);
  await Promise.all([
    page.waitForURL((u) => !u.toString().startsWith(new URL(url).origin), { timeout: 20000 }),
    page.click('button[type=submit]'),
  ]);
  await page.waitForLoadState('load');
  const landed = new URL(page.url());
  write({
    url: landed.origin + landed.pathname, // not the query: it holds the code
    hadCode: landed.searchParams.has('code'),
    title: await page.title(),
    text: (await page.textContent('body')).trim(),
  });
} catch (e) {
  write({ error: String(e && e.message || e) });
  process.exitCode = 1;
} finally {
  if (context) await context.close().catch(() => {});
  fs.rmSync(profile, { recursive: true, force: true });
}
