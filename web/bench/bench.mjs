// Load-time benchmark of the console in headless Chromium, median of N
// loads of a page that is not a callback:
//  - navigation start → handleRedirect() resolved (the app marks
//    'dualauth-handled'): when a page may go on with its own work;
//  - navigation start → the wasm running (the app marks 'dualauth-ready'
//    when auth.ready resolves): when token() and friends can answer;
// next to two baselines served the same way and loaded in turn: the same
// loader with an empty Go wasm ('dualauth-ready' when it runs), and a blank
// page with one module script.
//   node web/bench/bench.mjs URL_OF_SERVED_DIR [N]
//
// The marks are awaited with one CDP Runtime.evaluate of a small promise,
// not with Playwright's waitForFunction: that one injects a ~330 kB script
// into the page as soon as `load` fires, which lands on the main thread in
// the middle of the wasm start-up and is counted against it (measured:
// 13-18 ms in a Chromium trace).
import { launchBrowser } from '../e2e/harness.mjs';

const base = process.argv[2];
const n = Number(process.argv[3] ?? 15);
if (!base) throw new Error('usage: bench.mjs URL [N]');

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

// marksOf resolves to the start times of the named performance marks, once
// all of them are set.
const marksOf = (names) => `new Promise((resolve) => {
  const names = ${JSON.stringify(names)};
  const all = () => names.map((n) => performance.getEntriesByName(n, 'mark')[0]?.startTime);
  const done = () => { const t = all(); if (t.every((x) => x !== undefined)) { resolve(t); return true; } return false; };
  if (done()) return;
  new PerformanceObserver((_, obs) => { if (done()) obs.disconnect(); }).observe({ type: 'mark' });
})`;

const browser = await launchBrowser();
try {
  const page = await browser.ctx.newPage();
  const cdp = await browser.ctx.newCDPSession(page);
  async function measure(url, names) {
    await page.goto(url, { waitUntil: 'commit' });
    const { result, exceptionDetails } = await cdp.send('Runtime.evaluate', {
      expression: marksOf(names),
      awaitPromise: true,
      returnByValue: true,
      timeout: 15_000,
    });
    if (exceptionDetails) throw new Error(`${url}: ${exceptionDetails.exception?.description ?? exceptionDetails.text}`);
    return result.value;
  }

  const pages = {
    console: [`${base}index.html`, ['dualauth-handled', 'dualauth-ready']],
    emptyGo: [`${base}baseline.html`, ['dualauth-ready']],
    blank: [`${base}blank.html`, ['dualauth-handled']],
  };
  const times = { handled: [], ready: [], emptyGo: [], blank: [] };
  for (const [url, names] of Object.values(pages)) await measure(url, names); // warm-up, not counted
  // Interleaved, so that machine load hits all three alike.
  for (let i = 0; i < n; i++) {
    const [handled, ready] = await measure(...pages.console);
    times.handled.push(handled);
    times.ready.push(ready);
    times.emptyGo.push((await measure(...pages.emptyGo))[0]);
    times.blank.push((await measure(...pages.blank))[0]);
  }
  const m = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, median(v)]));
  const f = (x) => `${x.toFixed(1)} ms`;
  const range = (k) => `range ${f(Math.min(...times[k]))} – ${f(Math.max(...times[k]))}`;
  console.log(`wasm: navigation → handleRedirect() resolved (no callback), median of ${n}: ${f(m.handled)} (target ≤ 150 ms) ${m.handled <= 150 ? 'OK' : 'OVER'}; ${range('handled')}`);
  console.log(`wasm: navigation → wasm running (auth.ready), median of ${n}: ${f(m.ready)}; ${range('ready')}`);
  console.log(`wasm: baseline, same loader + empty Go wasm running: ${f(m.emptyGo)}; wasm ready ratio ${(m.ready / m.emptyGo).toFixed(2)}x`);
  console.log(`wasm: baseline, blank page with one module script: ${f(m.blank)}; handleRedirect ratio ${(m.handled / m.blank).toFixed(2)}x`);
} finally {
  await browser.close();
}
