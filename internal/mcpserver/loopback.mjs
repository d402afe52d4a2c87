// Preloaded into the MCP SDK's example server (node --import): its
// listen(port) calls bind 127.0.0.1 only, so tests stay on loopback.
import net from 'node:net';

const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  const p = args[0];
  if ((typeof p === 'number' || (typeof p === 'string' && /^[0-9]+$/.test(p))) && typeof args[1] !== 'string') {
    args.splice(1, 0, '127.0.0.1');
  }
  return listen.apply(this, args);
};
