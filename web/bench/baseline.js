// Loads the empty Go wasm through the same loader as the console and marks
// when it is running: the cost of Go on a page, with no dualauth work.
import { load } from './dualauth.js';

await load({ wasmURL: 'baseline.wasm' });
performance.mark('dualauth-handled');
document.body.dataset.ready = 'true';
