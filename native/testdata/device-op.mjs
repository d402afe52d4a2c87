// device-op.mjs: a real authorization server with the device authorization
// grant (RFC 8628) for dualauth's tests — oidc-provider 9 on 127.0.0.1 only.
//
//   node device-op.mjs [--client-id ID] [--device-ttl SECONDS]
//                      [--access-ttl SECONDS] [--interval SECONDS]
//
// When listening it prints one JSON line {"issuer": "http://127.0.0.1:PORT"}
// on stdout. Then, for every request to the device authorization or token
// endpoint, one JSON line {"event": "request", ...} naming the parameters
// and whether an Authorization header came — never their values, which are
// secrets. GET /_test/mark?id=N answers 204 after printing
// {"event": "mark", "id": "N"}. It exits when stdin closes or on
// SIGTERM/SIGINT.
//
// oidc-provider sends no `interval`; --interval N adds one to the device
// authorization response (so tests need not poll every 5 s). Without it the
// client must fall back to the RFC's 5 s default.
import http from 'node:http';
import Provider from 'oidc-provider';

const opts = { 'client-id': 'dualauth-device', 'device-ttl': '600', 'access-ttl': '3600', interval: '0' };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i += 2) {
  const k = argv[i].replace(/^--/, '');
  if (!(k in opts) || argv[i + 1] === undefined) {
    console.error(`device-op: unknown or incomplete option ${argv[i]}`);
    process.exit(2);
  }
  opts[k] = argv[i + 1];
}
const num = (k) => {
  const n = Number(opts[k]);
  if (!Number.isFinite(n) || n < 0) {
    console.error(`device-op: --${k} wants a number of seconds`);
    process.exit(2);
  }
  return n;
};
const deviceTTL = num('device-ttl');
const accessTTL = num('access-ttl');
const interval = num('interval');

const emit = (obj) => process.stdout.write(`${JSON.stringify(obj)}\n`);

const server = http.createServer();
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  const issuer = `http://127.0.0.1:${port}`;
  const provider = new Provider(issuer, {
    clients: [{
      client_id: opts['client-id'],
      token_endpoint_auth_method: 'none', // a public client: client_id only
      grant_types: ['urn:ietf:params:oauth:grant-type:device_code', 'refresh_token'],
      response_types: [],
      redirect_uris: [],
    }],
    features: {
      deviceFlow: { enabled: true },
      devInteractions: { enabled: true },
      revocation: { enabled: true },
    },
    scopes: ['openid', 'offline_access'],
    ttl: {
      DeviceCode: deviceTTL,
      AccessToken: accessTTL,
      RefreshToken: 3600,
      IdToken: 3600,
      Grant: 3600,
      Session: 3600,
      Interaction: 600,
    },
    rotateRefreshToken: true,
    // A refresh token whenever the client may use one; the default asks
    // for offline_access plus a consent prompt, which a device
    // authorization request cannot carry.
    issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
    cookies: { keys: ['device-op-test-cookie-key-not-a-secret'] },
    // Loopback-only test server: no TLS, so no secure cookies.
    proxy: false,
  });
  provider.use(async (ctx, next) => {
    const watched = ctx.path === '/device/auth' || ctx.path === '/token';
    await next();
    if (!watched) return;
    const params = Object.keys(ctx.oidc?.body ?? {}).sort();
    emit({
      event: 'request',
      path: ctx.path,
      status: ctx.status,
      grant_type: ctx.oidc?.body?.grant_type ?? '',
      params,
      authorization: Boolean(ctx.get('authorization')),
      error: ctx.body?.error ?? '',
    });
    if (ctx.path === '/device/auth' && ctx.status === 200 && interval > 0 && ctx.body && typeof ctx.body === 'object') {
      ctx.body = { ...ctx.body, interval };
    }
  });
  // Keep oidc-provider's own warnings (dev keys, dev interactions) on
  // stderr, where the test shows them only on failure.
  provider.on('server_error', (ctx, err) => console.error('device-op: server_error', err));
  const handle = provider.callback();
  server.on('request', (req, res) => {
    // A barrier for the test: once it reads this mark on stdout, it has
    // read the log lines of every request answered before.
    const mark = /^\/_test\/mark\?id=(\d+)$/.exec(req.url);
    if (mark) {
      emit({ event: 'mark', id: mark[1] });
      res.writeHead(204).end();
      return;
    }
    handle(req, res);
  });
  emit({ issuer });
});

const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdin.on('end', stop);
process.stdin.resume();
