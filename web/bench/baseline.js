// Loads the empty Go wasm through the same loader as the console and marks
// when it is running: the cost of Go on a page, with no dualauth work.
import { load } from './dualauth.js';

const auth = await load({ wasmURL: 'baseline.wasm' });
await auth.ready;
performance.mark('dualauth-ready');
document.body.dataset.ready = 'true';
