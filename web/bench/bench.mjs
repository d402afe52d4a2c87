// Load-time benchmark of the console in headless Chromium: time from
// navigation start to handleRedirect() resolving on a page load that is
// not a callback (the app marks 'dualauth-handled'), median of N loads,
// next to two baselines served the same way: the same loader with an empty
// Go wasm, and a blank page with one module script.
//   node web/bench/bench.mjs URL_OF_SERVED_DIR [N]
import { launchBrowser } from '../e2e/harness.mjs';

const base = process.argv[2];
const n = Number(process.argv[3] ?? 15);
if (!base) throw new Error('usage: bench.mjs URL [N]');

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function measure(page, url) {
  await page.goto(url);
  const h = await page.waitForFunction(() => performance.getEntriesByName('dualauth-handled')[0]?.startTime, null, { timeout: 15_000 });
  return h.jsonValue();
}

const browser = await launchBrowser();
try {
  const page = await browser.ctx.newPage();
  const pages = { console: `${base}index.html`, emptyGo: `${base}baseline.html`, blank: `${base}blank.html` };
  const times = { console: [], emptyGo: [], blank: [] };
  for (const url of Object.values(pages)) await measure(page, url); // warm-up, not counted
  // Interleaved, so that machine load hits all three alike.
  for (let i = 0; i < n; i++) {
    for (const [k, url] of Object.entries(pages)) times[k].push(await measure(page, url));
  }
  const m = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, median(v)]));
  const f = (x) => `${x.toFixed(1)} ms`;
  console.log(`wasm: navigation → handleRedirect() resolved (no callback), median of ${n}: ${f(m.console)} (target ≤ 150 ms) ${m.console <= 150 ? 'OK' : 'OVER'}`);
  console.log(`wasm:   range ${f(Math.min(...times.console))} – ${f(Math.max(...times.console))}`);
  console.log(`wasm: baseline, same loader + empty Go wasm: ${f(m.emptyGo)}; ratio ${(m.console / m.emptyGo).toFixed(2)}x`);
  console.log(`wasm: baseline, blank page with one module script: ${f(m.blank)}; ratio ${(m.console / m.blank).toFixed(1)}x`);
} finally {
  await browser.close();
}
