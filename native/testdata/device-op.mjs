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
//
// Grants without a person: $DEVICEOP_M2M, when set, is JSON
// {"clients": [...], "postOnly": [CLIENT_ID...],
//  "subject": {"jwks": {...}, "issuer": "...", "audience": "..."}}.
// The clients are added (client_credentials with client_secret_basic,
// client_secret_post or private_key_jwt; token exchange); client
// credentials are enabled, and an RFC 8693 token exchange grant is
// registered that accepts a subject token (type jwt) only when it verifies
// against the test's JWKS with that issuer and audience.
//
// Logging in by URL alone: $DEVICEOP_URL=1 enables open dynamic client
// registration (RFC 7591, at /reg; registrations are logged as requests to
// /reg) and resource indicators (RFC 8707): a token asked for a loopback
// resource is a JWT (RS256, verify with /jwks) whose audience is that
// resource and whose scope is api:read. POST /_test/forget-client?id=ID
// then deletes a registered client, as a server that forgets one would
// (its token endpoint answers invalid_client for it from then on).
//
// DPoP (RFC 9449): $DEVICEOP_DPOP=1 enables DPoP with server nonces
// required on every proof (the first proof without one gets 400
// use_dpop_nonce and a DPoP-Nonce header), registers the public device
// client with dpop_bound_access_tokens (no token without a proof), and
// binds public clients' refresh tokens to the proof's key.
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import Provider, { errors } from 'oidc-provider';
import { createLocalJWKSet, jwtVerify } from 'jose';

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
const m2m = process.env.DEVICEOP_M2M ? JSON.parse(process.env.DEVICEOP_M2M) : null;
const tokenExchange = 'urn:ietf:params:oauth:grant-type:token-exchange';
const byURL = process.env.DEVICEOP_URL === '1';
const dpop = process.env.DEVICEOP_DPOP === '1';

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
      ...(dpop ? { dpop_bound_access_tokens: true } : {}),
    }, ...(m2m?.clients ?? [])],
    features: {
      clientCredentials: { enabled: Boolean(m2m) },
      deviceFlow: { enabled: true },
      devInteractions: { enabled: true },
      dPoP: { enabled: dpop, nonceSecret: randomBytes(32), requireNonce: () => true },
      revocation: { enabled: true },
      registration: { enabled: byURL },
      resourceIndicators: {
        enabled: byURL,
        useGrantedResource: async () => true,
        getResourceServerInfo: async (ctx, resource) => {
          if (!/^http:\/\/127\.0\.0\.1:\d+\//.test(resource)) throw new errors.InvalidTarget();
          return { scope: 'api:read', audience: resource, accessTokenFormat: 'jwt', jwt: { sign: { alg: 'RS256' } } };
        },
      },
    },
    scopes: ['openid', 'offline_access', ...(m2m ? ['api'] : [])],
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
  if (m2m?.subject?.jwks) {
    const keys = createLocalJWKSet(m2m.subject.jwks);
    provider.registerGrantType(tokenExchange, async (ctx) => {
      const { subject_token: subject, subject_token_type: type, scope } = ctx.oidc.params;
      if (!subject || type !== 'urn:ietf:params:oauth:token-type:jwt') {
        throw new errors.InvalidRequest('subject_token of type urn:ietf:params:oauth:token-type:jwt required');
      }
      try {
        await jwtVerify(subject, keys, { issuer: m2m.subject.issuer, audience: m2m.subject.audience });
      } catch (err) {
        throw new errors.InvalidGrant(`subject token rejected (${err.code ?? 'invalid'})`);
      }
      const token = new provider.ClientCredentials({ client: ctx.oidc.client, scope: scope || undefined });
      ctx.body = {
        access_token: await token.save(),
        issued_token_type: 'urn:ietf:params:oauth:token-type:access_token',
        token_type: 'Bearer',
        expires_in: token.expiration,
      };
    }, ['subject_token', 'subject_token_type', 'scope']);
  }
  // oidc-provider takes client_secret_basic and client_secret_post alike
  // for a client registered for either; many servers do not. The clients
  // named in m2m.postOnly are refused with Basic, as such a server would.
  const postOnly = new Set(m2m?.postOnly ?? []);
  const basicClient = (ctx) => {
    const [scheme, cred] = (ctx.get('authorization') || '').split(' ');
    if (scheme?.toLowerCase() !== 'basic' || !cred) return '';
    const pair = Buffer.from(cred, 'base64').toString('utf8');
    return decodeURIComponent(pair.slice(0, pair.indexOf(':')).replace(/\+/g, ' '));
  };
  provider.use(async (ctx, next) => {
    const watched = ctx.path === '/device/auth' || ctx.path === '/token' || (ctx.path === '/reg' && ctx.method === 'POST');
    if (ctx.path === '/token' && postOnly.has(basicClient(ctx))) {
      ctx.status = 401;
      ctx.body = { error: 'invalid_client', error_description: 'this client is registered for client_secret_post' };
      emit({ event: 'request', path: ctx.path, status: 401, grant_type: '', params: [], authorization: true, error: 'invalid_client' });
      return;
    }
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
    const forget = /^\/_test\/forget-client\?id=([\w.-]+)$/.exec(req.url);
    if (forget && byURL && req.method === 'POST') {
      provider.Client.adapter.destroy(forget[1]).then(() => res.writeHead(204).end(), () => res.writeHead(500).end());
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
