// A small authorization server for browser tests, in the test's own
// process on 127.0.0.1, with one issuer per path (http://127.0.0.1:PORT/NAME):
//   /js      metadata whose authorization_endpoint is javascript:
//   /nodpop  metadata without dpop_signing_alg_values_supported
//   /deny    the authorization endpoint answers access_denied with EVIL as
//            its error_description
//   /evil    a working login whose ID token and access token (a JWT)
//            carry EVIL in a claim (name and value), and whose granted scope
//            has EVIL in it
//   /evilcode   the authorization endpoint answers with EVIL as its error code
//   /eviltoken  a working authorization whose token endpoint answers EVIL as
//               its error code
//   /mixup   metadata whose authorization endpoint is on another origin
//            (localhost for 127.0.0.1): a mix-up (RFC 9700 §4.4)
//   /charset a working login whose access token has a control character
//   /revoke  a working login whose revocation endpoint (with U+202E in its
//            path) nobody listens on
//   /rt      a working login with refresh tokens rt-N that rotate (a reused
//            one is invalid_grant) and access tokens of accessTTL seconds
//   /resmis  no metadata of its own; its protected-resource metadata
//            (/.well-known/oauth-protected-resource/resmis) names another
//            resource
//   /big     metadata over 1 MiB
//   /bigtoken   a working authorization whose token endpoint answers over
//               1 MiB
//   /bigrefresh a working login (access tokens expired at once) whose refresh
//               answers over 1 MiB
//   /bigreg  metadata with a registration_endpoint that answers over 1 MiB
//   /noreg   metadata without a registration_endpoint
//   /forgot  metadata with a registration_endpoint that registers any
//            client; its token endpoint answers invalid_client (the server
//            forgot the client)
// and on each, /api: an API that answers what it got (method,
// Authorization, body); /moved: a 302 to /api; /away?to=URL: a 307 to URL;
// /slow: an answer after 3 s.
// Every answer allows any origin (CORS). stats counts token requests by
// grant type; issued lists every refresh token handed out.
import { createServer } from 'node:http';

// Server text with a terminal/bidi attack: ESC sequences (CSI, an OSC 8
// link), BEL, CR LF, and a right-to-left override that makes "exe.png"
// read as "gnp.exe".
export const EVIL = 'Mallory\u202egnp.exe\x1b[31m\x1b]8;;https://evil.example\x07click\x1b]8;;\x07\r\nforged';

// listen serves handler on a random loopback port.
export function listen(handler) {
  const srv = createServer(handler);
  return new Promise((resolve) => srv.listen(0, '127.0.0.1', () => resolve(srv)));
}

export function json(res, status, body) {
  res.writeHead(status, { 'Content-Type': 'application/json', 'Access-Control-Allow-Origin': '*' });
  res.end(JSON.stringify(body));
}

const b64url = (s) => Buffer.from(s).toString('base64url');

export async function startNodeOP({ accessTTL = 3600 } = {}) {
  const codes = new Map(); // code → the nonce of its authorization request
  const seen = [];
  const stats = { authorization_code: 0, refresh_token: 0 };
  const issued = [];
  const away = [];
  let current = null; // the one valid refresh token of /rt
  let n = 0;
  let base = '';
  const meta = (iss) => ({
    issuer: iss,
    authorization_endpoint: `${iss}/auth`,
    token_endpoint: `${iss}/token`,
    code_challenge_methods_supported: ['S256'],
  });
  const tokens = (iss, tenant, clientId, nonce) => {
    n++;
    const claims = { iss, aud: clientId, sub: `user-${tenant}`, nonce, exp: Math.floor(Date.now() / 1000) + 3600 };
    if (tenant === 'evil') Object.assign(claims, { email: EVIL, [`k${EVIL}`]: 1 });
    const body = { access_token: `at-${tenant}-${n}`, token_type: 'Bearer', expires_in: tenant === 'rt' ? accessTTL : tenant === 'bigrefresh' ? 0 : 3600, refresh_token: `rt-${tenant}-${n}` };
    if (tenant === 'evil') {
      // A JWT access token whose claims carry EVIL, C1 controls, U+2028.
      const at = { sub: `user-${tenant}`, note: `${EVIL}\u0085\u2028\u200f`, [`k${EVIL}`]: 2 };
      body.access_token = `${b64url('{"alg":"none"}')}.${b64url(JSON.stringify(at))}.at-evil-${n}`;
      body.scope = `openid offline_access ${EVIL}`;
    }
    if (tenant === 'charset') body.access_token = `at-\x1b[31m-${n}`;
    if (nonce !== undefined) body.id_token = `${b64url('{"alg":"none"}')}.${b64url(JSON.stringify(claims))}.`;
    issued.push(body.refresh_token);
    if (tenant === 'rt') current = body.refresh_token;
    return body;
  };
  const handler = (req, res) => {
    const u = new URL(req.url, base);
    seen.push(`${req.method} ${u.pathname}`);
    if (req.method === 'OPTIONS') {
      res.writeHead(204, { 'Access-Control-Allow-Origin': '*', 'Access-Control-Allow-Headers': 'authorization, dpop, content-type', 'Access-Control-Allow-Methods': '*' });
      return res.end();
    }
    if (u.pathname === '/.well-known/oauth-protected-resource/resmis') {
      return json(res, 200, { resource: `${base}/elsewhere`, authorization_servers: [`${base}/evil`] });
    }
    const [, tenant, ...rest] = u.pathname.split('/');
    const iss = `${base}/${tenant}`;
    const path = `/${rest.join('/')}`;
    if (path === '/.well-known/openid-configuration') {
      if (tenant === 'js') return json(res, 200, { ...meta(iss), authorization_endpoint: 'javascript:alert(document.domain)//' });
      if (tenant === 'mixup') return json(res, 200, { ...meta(iss), authorization_endpoint: `${iss.replace('127.0.0.1', 'localhost')}/auth` });
      if (tenant === 'revoke') return json(res, 200, { ...meta(iss), revocation_endpoint: 'http://127.0.0.1:1/re\u202evoke' });
      if (tenant === 'big') return json(res, 200, { ...meta(iss), padding: 'x'.repeat(2 << 20) });
      if (tenant === 'bigreg') return json(res, 200, { ...meta(iss), registration_endpoint: `${iss}/register` });
      if (tenant === 'forgot') return json(res, 200, { ...meta(iss), registration_endpoint: `${iss}/register` });
      if (['nodpop', 'bigtoken', 'bigrefresh', 'noreg', 'deny', 'evil', 'rt', 'evilcode', 'eviltoken', 'charset'].includes(tenant)) return json(res, 200, meta(iss));
    }
    if (path === '/auth') {
      const back = new URL(u.searchParams.get('redirect_uri'));
      back.searchParams.set('state', u.searchParams.get('state'));
      if (tenant === 'deny') {
        back.searchParams.set('error', 'access_denied');
        back.searchParams.set('error_description', EVIL);
      } else if (tenant === 'evilcode') {
        back.searchParams.set('error', EVIL);
      } else {
        const code = `code-${codes.size + 1}-${Date.now()}`;
        codes.set(code, u.searchParams.get('nonce') ?? undefined);
        back.searchParams.set('code', code);
      }
      res.writeHead(302, { Location: back.href });
      return res.end();
    }
    if (path === '/register' && req.method === 'POST' && tenant === 'bigreg') return json(res, 201, { client_id: 'big', padding: 'x'.repeat(2 << 20) });
    if (path === '/register' && req.method === 'POST' && tenant === 'forgot') {
      let raw = '';
      req.on('data', (d) => (raw += d));
      req.on('end', () => json(res, 201, { ...JSON.parse(raw), client_id: `registered-${++n}`, token_endpoint_auth_method: 'none' }));
      return;
    }
    if (path === '/away') {
      // A 307 to the URL in ?to= (another origin, in the tests); away keeps
      // the Authorization each request came with.
      away.push(req.headers.authorization ?? '');
      res.writeHead(307, { Location: u.searchParams.get('to'), 'Access-Control-Allow-Origin': '*' });
      return res.end();
    }
    if (path === '/moved') {
      // A redirect to the API, on the same origin.
      res.writeHead(302, { Location: `${iss}/api`, 'Access-Control-Allow-Origin': '*' });
      return res.end();
    }
    if (path === '/slow') {
      setTimeout(() => json(res, 200, { slow: true }), 3000);
      return;
    }
    if (path === '/api') {
      // An API that says what it got.
      let raw = '';
      req.on('data', (d) => (raw += d));
      req.on('end', () => json(res, 201, { method: req.method, authorization: req.headers.authorization ?? null, body: raw }));
      return;
    }
    if (path === '/token' && req.method === 'POST') {
      let raw = '';
      req.on('data', (d) => (raw += d));
      req.on('end', () => {
        const f = new URLSearchParams(raw);
        const grant = f.get('grant_type');
        if (grant in stats) stats[grant]++;
        if (grant === 'refresh_token') {
          if (tenant === 'bigrefresh') return json(res, 200, { access_token: 'at-big', token_type: 'Bearer', padding: 'x'.repeat(2 << 20) });
          if (tenant !== 'rt' || f.get('refresh_token') !== current) {
            current = null; // a reused refresh token revokes the grant
            return json(res, 400, { error: 'invalid_grant' });
          }
          return json(res, 200, tokens(iss, tenant, f.get('client_id'), undefined));
        }
        if (tenant === 'eviltoken') return json(res, 400, { error: EVIL });
        if (tenant === 'forgot') return json(res, 401, { error: 'invalid_client' });
        if (tenant === 'bigtoken') return json(res, 200, { access_token: 'at-big', token_type: 'Bearer', padding: 'x'.repeat(2 << 20) });
        if (!codes.has(f.get('code'))) return json(res, 400, { error: 'invalid_grant', error_description: EVIL });
        const nonce = codes.get(f.get('code'));
        codes.delete(f.get('code'));
        json(res, 200, tokens(iss, tenant, f.get('client_id'), nonce ?? ''));
      });
      return;
    }
    json(res, 404, { error: 'not_found' });
  };
  const srv = await listen(handler);
  base = `http://127.0.0.1:${srv.address().port}`;
  return {
    base,
    seen,
    stats,
    issued,
    away,
    close: () => new Promise((r) => srv.close(r)),
  };
}
