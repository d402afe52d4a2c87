// Shared test harness: Debian's Chromium driven by playwright-core, and the
// loopback processes (test provider, console server) a test starts and
// stops by PID. Loopback only: Chromium resolves every other name to
// NOTFOUND.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { chromium } from 'playwright-core';

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost',
];

// chromiumPath fails loudly when Chromium is missing: these tests never skip.
export function chromiumPath() {
  let p = '';
  try {
    p = execFileSync('sh', ['-c', 'command -v chromium'], { encoding: 'utf8' }).trim();
  } catch {
    p = '';
  }
  if (!p) throw new Error('chromium is not installed (run `bash scripts/ensure-tools.sh`); browser tests cannot run without it');
  return p;
}

// launchBrowser starts Chromium with a fresh temporary profile, which also
// serves as its HOME and XDG directories. close() removes it.
export async function launchBrowser() {
  const profile = mkdtempSync(join(tmpdir(), 'dualauth-chromium-'));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath(),
    headless: true,
    args: CHROMIUM_ARGS,
    env: { ...process.env, HOME: profile, XDG_CONFIG_HOME: profile, XDG_CACHE_HOME: profile },
    timeout: 30_000,
  });
  return {
    ctx,
    async close() {
      await ctx.close().catch(() => {});
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

// startProcess runs a command that prints one JSON line when ready and
// exits when its stdin closes; stop() ends it by PID (SIGTERM, then
// SIGKILL) and waits for it.
export async function startProcess(cmd, args, { name = cmd, timeoutMs = 20_000 } = {}) {
  const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += d;
    if (stderr.length > 20_000) stderr = stderr.slice(-20_000);
  });
  const exited = new Promise((resolve) => child.once('exit', (code, sig) => resolve({ code, sig })));
  const lines = createInterface({ input: child.stdout });
  const ready = Promise.race([
    new Promise((resolve) => lines.once('line', resolve)),
    exited.then(({ code, sig }) => {
      throw new Error(`${name} exited (${code ?? sig}) before it was ready:\n${stderr}`);
    }),
    new Promise((_, reject) => setTimeout(() => reject(new Error(`${name} not ready after ${timeoutMs} ms:\n${stderr}`)), timeoutMs).unref()),
  ]);
  let info;
  try {
    info = JSON.parse(await ready);
  } catch (err) {
    if (child.exitCode === null && child.signalCode === null) {
      process.kill(child.pid, 'SIGKILL'); // never leave it running
      await exited;
    }
    throw err;
  }
  return {
    info,
    pid: child.pid,
    stderr: () => stderr,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.stdin.end();
      process.kill(child.pid, 'SIGTERM');
      const t = setTimeout(() => {
        if (child.exitCode === null) process.kill(child.pid, 'SIGKILL');
      }, 3000);
      await exited;
      clearTimeout(t);
    },
  };
}

// poll retries fn until it returns a truthy value or time runs out.
export async function poll(fn, { timeoutMs = 5000, intervalMs = 50, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    last = await fn();
    if (last) return last;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${JSON.stringify(last)})`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
