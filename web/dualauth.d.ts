// Types of web/dualauth.js, the dualauth browser API.

/** Options of load(). Both URLs default to files next to dualauth.js. */
export interface LoadOptions {
  wasmURL?: string | URL;
  wasmExecURL?: string | URL;
  /**
   * Worker mode: the core runs in a SharedWorker (dualauth-worker.js, next
   * to dualauth.js) shared by every tab of the origin, and keeps logins —
   * refresh tokens among them — in its memory only: no refresh token is
   * ever written to storage or readable by page script, and the page gets
   * access tokens only. This keeps *dualauth's* refresh token from page
   * script; it does not keep a same-origin script from obtaining one of its
   * own — by starting a login itself, or, while a callback page loads, by
   * reading the code from the URL and the pending login's PKCE verifier
   * from IndexedDB `dualauth-worker` and redeeming them first.
   * fetch() in this mode: the worker sends the request; the page gets a
   * Response rebuilt from it (body read in full, the worker's url,
   * redirected and type; a redirect not followed is a network-error
   * Response whose type is "opaqueredirect"); init.signal aborts the
   * page's call at once while the worker's request runs to its end;
   * keepalive is not carried.
   * The login ends when the last tab of the origin
   * closes (in Chromium also when the only one reloads; navigation:
   * see web/README.md). The API is the same. Default false:
   * logins persist in IndexedDB. See web/README.md for what same-origin
   * script can take in each mode.
   */
  worker?: boolean;
}

/**
 * Which login. host is what the user has: an issuer URL, a Databricks host
 * (of any name: its host metadata says what it is), or an API that names its
 * authorization server in RFC 9728 metadata. The core resolves it.
 */
export interface Target {
  host: string;
  /**
   * The OAuth client. Optional: Databricks hosts use databricks-cli; an
   * issuer with a registration_endpoint gets a client registered (RFC 7591,
   * kept per issuer in this origin); token/logout/session find the client
   * of the only login of host — or, when every client logged in there is
   * one dualauth registered, of the newest login (as the CLI does).
   */
  clientId?: string;
  /**
   * An RFC 8707 resource indicator asked of the issuer at host, for an API
   * that publishes no metadata of its own. The login is kept per resource:
   * token({ host: resource }) finds it.
   */
  resource?: string;
  /**
   * A Databricks account ID, for an account-level login on the accounts
   * host (issuer HOST/oidc/accounts/ID). One login per account.
   */
  accountId?: string;
}

export interface LoginOptions extends Target {
  /**
   * Space-separated string or array. Default (missing or empty): what the
   * host turns out to be wants (core.LoginScopes, as for `auth login`) —
   * "all-apis offline_access" for a Databricks host; for a protected
   * resource (RFC 9728), the scope of its 401, else its scopes_supported,
   * plus openid / offline_access where its server offers them, and no
   * scope at all when none of these names one (the MCP spec's scope
   * selection); "openid offline_access" for any other issuer.
   */
  scopes?: string | string[];
  /** Default: this page's origin + path. Must be registered with the server. */
  redirectUri?: string;
  /** Where to come back to after the login; same origin only. Default: this page. */
  returnTo?: string;
  /** OpenID prompt; default automatic ("consent" when a refresh token is asked of an OpenID provider). */
  prompt?: string;
  /**
   * DPoP (RFC 9449): bind the tokens to a key of this login, a WebCrypto
   * P-256 key made non-extractable and kept in IndexedDB. "auto" (default):
   * when the server supports DPoP and the API's metadata requires it (or the
   * client was registered for it); "always"; "never".
   */
  dpop?: 'auto' | 'always' | 'never';
}

export interface TokenOptions extends Target {
  /** Refresh even a valid token (unless another tab just did). */
  forceRefresh?: boolean;
}

export interface RedirectResult {
  /** "none": this page load is not a login callback. */
  status: 'none' | 'signed-in';
  /** The URL the login started from (the address bar is back on it). */
  returnTo: string | null;
}

export interface Token {
  access_token: string;
  /** "Bearer", or "DPoP" for a token bound to the login's key: send it with dualauth.fetch, which adds the proof. */
  token_type: string;
  /** RFC 3339, or null when the server gave no lifetime. */
  expiry: string | null;
}

/** A login as seen by onChange: never carries tokens. */
export interface Change {
  key: string;
  signedIn: boolean;
  issuer?: string;
  host?: string;
  clientId?: string;
  /** Space-separated. */
  scopes?: string;
  expiry?: string | null;
}

/** What logout() resolves to. */
export interface LogoutResult {
  /** true: a stored login was removed; false: none was stored (already logged out). */
  removed: boolean;
}

export interface Session extends Partial<Change> {
  signedIn: boolean;
  /** Whether a refresh token is stored. */
  refreshable?: boolean;
  /**
   * The ID token's claims (decoded, not verified), or null. Every string
   * (names and values) has passed the sanitiser of error messages: control
   * characters and bidirectional overrides come out escaped.
   */
  claims?: Record<string, unknown> | null;
}

/**
 * Errors reject with an Error whose `code` is stable: an OAuth error code
 * from the server (access_denied, invalid_grant, ...) — only when it is made
 * of RFC 6749's error charset (%x20-21 / %x23-5B / %x5D-7E); any other code
 * a server sends (controls, non-ASCII, `"` or `\`) becomes server_error —
 * or one of
 * - not_logged_in, state_mismatch, login_expired, issuer_mismatch,
 *   missing_issuer, nonce_mismatch, discovery_failed,
 *   lock_timeout, network_error;
 * - storage_unavailable: IndexedDB or localStorage cannot be used — none in
 *   this page, or the origin's `dualauth` database cannot be opened (say it
 *   was upgraded to a newer version by another program of the origin or a
 *   later dualauth: it is left as it is);
 * - invalid_argument: missing or malformed options, a host the API cannot
 *   use (`token({ host: '127.0.0.1:8080' })`: a loopback host needs its
 *   http:// or https://; a query, fragment or user info), or several
 *   logins to the host with no clientId to choose;
 * - mix_up: the server's metadata sends the sign-in to an origin that is
 *   neither the issuer's nor its token endpoint's (RFC 9700 §4.4) — refused
 *   before the redirect; or the tokens came from a token endpoint off the
 *   issuer's origin without an ID token naming the issuer, or with an ID
 *   token naming another — nothing saved;
 * - token_charset: the token endpoint answered a token with characters
 *   outside %x20-7E (controls, non-ASCII); nothing of the answer is kept —
 *   logging in again gets the same, ask the server's operator (a refresh
 *   answered so also drops the spent refresh token: the next token() is
 *   not_logged_in);
 * - resource_mismatch: protected-resource metadata (RFC 9728) names another
 *   resource than the URL it was read for;
 * - response_too_large: a server's answer over 1 MiB (metadata, a client
 *   registration, the token answer of a login or of a refresh); it is not
 *   read further;
 * - no_client: no clientId was given and the server neither publishes one
 *   (Databricks) nor offers dynamic client registration;
 * - client_forgotten: the server no longer accepts the client dualauth had
 *   registered; the registration is dropped and login() again registers a
 *   new one;
 * - insecure_url: an issuer or endpoint (in metadata too) that is neither
 *   https nor http on a loopback host — javascript:, data: … included;
 * - load_failed: the wasm could not be fetched or started;
 * - unexpected_redirect: the token endpoint answered with a redirect, which
 *   is never followed (the request is not re-sent elsewhere);
 * - stored_login_unreadable: the stored login (IndexedDB) cannot be read —
 *   damaged, or written by something else. logout() removes it (with its
 *   DPoP key and a login of it still waiting for its callback); then log in
 *   again;
 * - dpop_unsupported: dpop 'always' against a server whose metadata has no
 *   dpop_signing_alg_values_supported — refused before the redirect; use
 *   'auto' or 'never';
 * - wrong_origin: fetch() to a URL that is not on the origin of the login's
 *   host or resource — nothing was sent;
 * - internal_error: anything else (a bug: please report it).
 *
 * `message` and `description` (the server's error_description, when any),
 * the strings of session() and onChange summaries (issuer, host, clientId,
 * scopes) and dualauth's console.warn lines carry text from the network
 * through the same sanitiser as the auth CLI:
 * control characters, ESC and bidirectional overrides (U+202E …) come out
 * escaped (`\u202e`). They are still text — never render them as HTML.
 */
export interface DualauthError extends Error {
  code: string;
  description?: string;
}

export interface DualAuth {
  /**
   * Settles when the wasm is running. The calls below wait for it on their
   * own; a page awaits this only to tell a load failure (code load_failed)
   * early.
   */
  readonly ready: Promise<void>;
  /** Redirects the page to the authorization server (resolves as it leaves). */
  login(options: LoginOptions): Promise<void>;
  /**
   * Call on every page load: finishes a login whose callback this is. A page
   * load that is not a callback resolves "none" at once, without waiting for
   * the wasm.
   */
  handleRedirect(): Promise<RedirectResult>;
  /** A valid access token; one refresh across all tabs when it expired. Rejects with code not_logged_in. */
  token(options: TokenOptions): Promise<Token>;
  /**
   * Calls an API with the login's token and resolves to its Response: for a
   * DPoP login "Authorization: DPoP …" with a proof of this request (method
   * and URL) signed by the login's key, else "Authorization: Bearer …". A 401
   * with error="use_dpop_nonce" is retried once with the API's DPoP-Nonce; any
   * other 401 refreshes the token once and retries once; the API's nonce is
   * kept for the next call. The token goes to the login's origin (its host
   * or resource) only: use absolute URLs on the API. A request with a proof
   * does not follow redirects (an "opaqueredirect" Response comes back):
   * call the final URL. A Bearer request follows redirects (the browser
   * drops Authorization on one to another origin, as Chromium does: tested).
   * A 403 with error="insufficient_scope" (step-up) is
   * not retried: it resolves to that 403 Response, and console.warn gets one
   * line naming the login that would be let in, `login({ host: "…",
   * scopes: "…" })` (the login's scopes and the API's); the page calls
   * login() with them if it wants to. input and init are
   * those of fetch(); a cross-origin API must allow the Authorization and
   * DPoP headers (and expose DPoP-Nonce and WWW-Authenticate) in CORS.
   * Without host or resource, the URL finds its login: the one whose
   * resource contains it (a path prefix, the longest one).
   */
  fetch(input: RequestInfo | URL, init?: RequestInit, options?: Partial<Target>): Promise<Response>;
  /**
   * Removes the login in every tab of this origin and revokes it at the
   * server when possible. Resolves { removed: false } when no login was
   * stored (a second logout, another tab's first): not an error, the page is
   * logged out as asked — as `auth logout` says "Already logged out" and
   * exits 0.
   */
  logout(options: Target): Promise<LogoutResult>;
  /** What is stored for a login, without its tokens. */
  session(options: Target): Promise<Session>;
  /**
   * cb runs on logins, refreshes and logouts made by any tab. Returns an
   * unsubscribe function. Registered before the wasm runs, cb is attached
   * when it does (never, if it fails to load).
   */
  onChange(cb: (change: Change) => void): () => void;
}

/**
 * Starts loading the wasm (once per page) and resolves at once to the API;
 * the calls that need the core wait for the wasm. After a load failure the
 * next load() tries again.
 */
export function load(options?: LoadOptions): Promise<DualAuth>;
