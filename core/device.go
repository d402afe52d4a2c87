package core

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// DeviceGrantType is the grant_type of RFC 8628 §3.4.
const DeviceGrantType = "urn:ietf:params:oauth:grant-type:device_code"

// ErrNoDeviceFlow: the server advertises no device_authorization_endpoint.
var ErrNoDeviceFlow = errors.New("the authorization server does not offer the device authorization grant (no device_authorization_endpoint)")

// ErrDeviceRequestRefused: the server answered the device authorization
// request with an OAuth error (say unauthorized_client: many servers
// advertise the grant but enable it per client). No code was shown yet, so
// a driver may fall back to another flow.
var ErrDeviceRequestRefused = errors.New("the server refused the device authorization request")

// ErrDeviceCodeExpired: the user did not approve before the code expired.
var ErrDeviceCodeExpired = errors.New("the device code expired before the login was approved; run the login again")

// ShowCode asks the driver to show the user where to go and what to type
// (RFC 8628 §3.3). It needs no answer.
type ShowCode struct {
	UserCode                string
	VerificationURI         string
	VerificationURIComplete string
	ExpiresAt               time.Time
}

// Wait asks the driver to let For pass and answer with [Waited]: polling
// intervals are effects, so tests run in zero wall time.
type Wait struct{ For time.Duration }

// Waited answers [Wait].
type Waited struct{ Now time.Time }

func (ShowCode) effect() {}
func (Wait) effect()     {}
func (Waited) event()    {}

// DefaultDeviceInterval is the polling interval when the server gives none
// (RFC 8628 §3.2).
const DefaultDeviceInterval = 5 * time.Second

// MaxDeviceInterval caps a server's polling interval: a user who approved
// should not wait longer than this to be logged in.
const MaxDeviceInterval = time.Minute

// DeviceConfig says what to log in to with the device authorization grant.
type DeviceConfig struct {
	Target   Target
	Client   Client
	Scopes   []string
	Metadata *Metadata // known metadata skips discovery
	// Resolution, when known, gives the metadata and the RFC 8707
	// resource, and is saved with the login.
	Resolution *Resolution
	// DPoP is the DPoP mode ("" is [DPoPAuto]).
	DPoP string
}

// With no Client.ID and a Resolution, a device login uses the client it
// registered at the issuer for the device grant before, or registers one
// (RFC 7591), as a browser login does for its own (see
// [DeviceRegistrationKey]).

func (c *DeviceConfig) resource() string {
	if c.Resolution == nil {
		return ""
	}
	return c.Resolution.Resource
}

type devicePhase int

const (
	deviceIdle devicePhase = iota
	deviceDiscovering
	deviceFindingClient // clientReg: the client registered before, or a new one
	deviceForgetting    // clientReg: mark the registration the server refused
	deviceKeying
	deviceAuthorizing
	deviceWaiting
	devicePolling
	deviceSaving // keep: lock, read the entry replaced, save, unlock
	deviceDone
)

// Device is the device authorization grant machine (RFC 8628): Start →
// Fetch metadata → Fetch device authorization → ShowCode, Wait → Fetch token
// (authorization_pending: Wait again; slow_down: the interval grows by 5 s
// for good) → Lock → Load the entry it replaces → Save → DropKey of a DPoP
// key no longer used → Unlock, Done; a failed login drops the key it made.
// It saves the same [Entry] as a browser login, so the token machine
// cannot tell them apart.
type Device struct {
	cfg      DeviceConfig
	phase    devicePhase
	disc     discovery
	meta     Metadata
	code     string // device_code: a secret, never in messages
	interval time.Duration
	expires  time.Time
	req      Request
	entry    Entry
	dp       dpopSend // the polls, with proofs for a DPoP login
	kp       keep     // the save of the new entry
	now      time.Time
	cr       clientReg // the client of a login without a client ID
	// registered: the client is one dualauth registered; clientDPoP: for
	// DPoP-bound tokens.
	registered, clientDPoP bool
	// bind: the login needs an ID token naming the issuer
	// ([Metadata.needsIDToken]), and asked for openid to get one.
	bind bool
}

// NewDevice returns a device login that begins with [Start].
func NewDevice(cfg DeviceConfig) *Device { return &Device{cfg: cfg} }

// Interval is the current polling interval (it grows on slow_down).
func (d *Device) Interval() time.Duration { return d.interval }

// fail ends the login with err, dropping the DPoP key it made.
func (d *Device) fail(err error) []Effect {
	d.phase = deviceDone
	return append(dropOwnKey(d.dp.key, err), Done{Err: err})
}

// Step advances the device login by one event.
func (d *Device) Step(ev Event) []Effect {
	if d.phase == deviceFindingClient || d.phase == deviceForgetting {
		return d.clientStep(ev)
	}
	if d.phase == deviceSaving {
		effs, done := d.kp.stepLogin(ev, d.dp.key)
		if done {
			d.phase = deviceDone
		}
		return effs
	}
	switch ev := ev.(type) {
	case Start:
		if d.phase == deviceIdle {
			d.dp.rand, d.now = ev.Rand, ev.Now
			if d.cfg.Client.ID == "" && d.cfg.Resolution == nil {
				return d.fail(fmt.Errorf("device login: %w", ErrNoClient))
			}
			m, req, err := d.disc.start(d.cfg.Metadata, d.cfg.Resolution, d.cfg.Target)
			switch {
			case err != nil:
				return d.fail(err)
			case m != nil:
				return d.authorize(*m)
			}
			d.phase = deviceDiscovering
			return []Effect{Fetch{Request: *req}}
		}
	case Fetched:
		switch d.phase {
		case deviceDiscovering:
			m, next, err := d.disc.step(ev)
			switch {
			case err != nil:
				return d.fail(err)
			case m != nil:
				return d.authorize(*m)
			}
			return []Effect{Fetch{Request: *next}}
		case deviceAuthorizing:
			return d.authorized(ev)
		case devicePolling:
			return d.polled(ev)
		}
	case Signed:
		if d.phase == devicePolling {
			return d.polled(ev)
		}
	case KeyCreated:
		if d.phase == deviceKeying {
			k, err := newDPoPKey(ev, d.cfg.DPoP == DPoPAlways)
			if err != nil {
				return d.fail(err)
			}
			d.dp.key = k
			return d.requestCode()
		}
	case Waited:
		if d.phase == deviceWaiting {
			if !ev.Now.Before(d.expires) {
				return d.fail(ErrDeviceCodeExpired)
			}
			d.phase = devicePolling
			d.req = d.cfg.Client.formRequest(d.meta.TokenEndpoint, url.Values{"grant_type": {DeviceGrantType}, "device_code": {d.code}})
			if r := d.cfg.resource(); r != "" {
				d.req.Form.Set("resource", r)
			}
			d.dp.reset()
			next, err := d.dp.send(d.req, ev.Now)
			if err != nil {
				return d.fail(fmt.Errorf("device login: %w", err))
			}
			return []Effect{next}
		}
	case Aborted:
		return d.fail(ev.Err)
	}
	return d.fail(fmt.Errorf("device login: unexpected %T in phase %d", ev, d.phase))
}

func (d *Device) authorize(m Metadata) []Effect {
	if m.DeviceAuthorizationEndpoint == "" {
		return d.fail(fmt.Errorf("%s: %w", m.Issuer, ErrNoDeviceFlow))
	}
	d.meta = m
	if _, err := useDPoP(d.cfg.DPoP, m, d.cfg.Resolution, false); err != nil {
		return d.fail(err) // before a client is registered for nothing
	}
	if d.cfg.Client.ID == "" {
		d.cr = clientReg{meta: m, appType: AppNative, dpop: d.cfg.DPoP == DPoPAlways}
		effs, err := d.cr.begin()
		if err != nil {
			return d.fail(err)
		}
		d.phase = deviceFindingClient
		return effs
	}
	return d.withClient()
}

// clientStep runs the client's sub-machine (shared with [Login]): on to
// the device authorization once the client is known; the end of the
// login after a forget.
func (d *Device) clientStep(ev Event) []Effect {
	effs, next := d.cr.run(ev)
	switch next {
	case regOver:
		d.phase = deviceDone
		return beforeDone(effs, dropKey(d.dp.key))
	case regWaiting:
		return effs
	}
	d.cfg.Client = Client{ID: d.cr.id}
	d.cfg.Resolution = withClient(d.cfg.Resolution, d.cr.id, d.cr.from)
	d.registered, d.clientDPoP = true, d.cr.dpopBound
	return append(effs, d.withClient()...)
}

// refused ends a login whose registered client the server refused
// (invalid_client): the registration is marked, so that the next login
// registers a new one; not now, as the user would have to approve again.
func (d *Device) refused(err error) []Effect {
	d.cr = clientReg{meta: d.meta}
	d.phase = deviceForgetting
	return d.cr.refuse(d.cfg.Client.ID, err)
}

// withClient goes on once the client is known: a DPoP key when the login
// uses DPoP, then the device authorization request.
func (d *Device) withClient() []Effect {
	m := d.meta
	dpop, err := useDPoP(d.cfg.DPoP, m, d.cfg.Resolution, d.clientDPoP)
	if err != nil {
		return d.fail(err)
	}
	if dpop {
		d.phase = deviceKeying
		e := newEntry(d.cfg.Target, d.cfg.Client.ID, nil, &TokenResponse{}, d.now, m)
		e.resolvedBy(d.cfg.Resolution)
		return []Effect{CreateKey{Alg: AlgES256, For: e.Key()}}
	}
	return d.requestCode()
}

// requestCode sends the device authorization request (RFC 8628 §3.1).
func (d *Device) requestCode() []Effect {
	d.phase = deviceAuthorizing
	if d.meta.needsIDToken(false) {
		// Tokens from a token endpoint off the issuer's origin: only an ID
		// token naming the issuer binds them to it, wherever the
		// verification page is (H7); no authorization response carries iss
		// here.
		d.cfg.Scopes = withOpenID(d.cfg.Scopes)
		d.bind = true
	}
	form := url.Values{}
	if len(d.cfg.Scopes) > 0 {
		form.Set("scope", strings.Join(d.cfg.Scopes, " "))
	}
	if r := d.cfg.resource(); r != "" {
		form.Set("resource", r) // RFC 8707 §2.1
	}
	d.req = d.cfg.Client.formRequest(d.meta.DeviceAuthorizationEndpoint, form)
	return []Effect{Fetch{Request: d.req}}
}

type wireDevice struct {
	DeviceCode              string          `json:"device_code"`
	UserCode                string          `json:"user_code"`
	VerificationURI         string          `json:"verification_uri"`
	VerificationURL         string          `json:"verification_url"` // an older draft's name, still served by some
	VerificationURIComplete string          `json:"verification_uri_complete"`
	ExpiresIn               json.RawMessage `json:"expires_in"`
	Interval                json.RawMessage `json:"interval"`
}

// ParseDeviceResponse reads a device authorization response (RFC 8628 §3.2).
func ParseDeviceResponse(r Response, now time.Time) (*ShowCode, string, time.Duration, error) {
	if r.Status != 200 {
		_, err := ParseTokenResponse(r, now) // same error shape as the token endpoint
		return nil, "", 0, fmt.Errorf("device authorization request: %w", err)
	}
	var w wireDevice
	if err := json.Unmarshal(r.Body, &w); err != nil {
		return nil, "", 0, fmt.Errorf("device authorization response is not JSON%s", describeBody(r, false))
	}
	if w.VerificationURI == "" {
		w.VerificationURI = w.VerificationURL
	}
	if w.DeviceCode == "" || w.UserCode == "" || w.VerificationURI == "" {
		return nil, "", 0, fmt.Errorf("device authorization response lacks device_code, user_code or verification_uri")
	}
	for _, u := range []string{w.VerificationURI, w.VerificationURIComplete} {
		if u != "" && CheckURL(u) != nil {
			return nil, "", 0, fmt.Errorf("device authorization response: verification URI %q is not https", u)
		}
	}
	exp, err := parseExpiresIn(w.ExpiresIn)
	if err != nil || exp == 0 {
		return nil, "", 0, fmt.Errorf("device authorization response has no valid expires_in")
	}
	interval := DefaultDeviceInterval
	if secs, err := parseExpiresIn(w.Interval); err == nil && secs > 0 {
		interval = min(time.Duration(secs)*time.Second, MaxDeviceInterval)
	}
	show := &ShowCode{UserCode: w.UserCode, VerificationURI: w.VerificationURI, VerificationURIComplete: w.VerificationURIComplete, ExpiresAt: now.Add(time.Duration(exp) * time.Second)}
	return show, w.DeviceCode, interval, nil
}

func (d *Device) authorized(ev Fetched) []Effect {
	if ev.Err != nil {
		return d.fail(fmt.Errorf("device authorization request to %s failed: %v", d.meta.DeviceAuthorizationEndpoint, ev.Err))
	}
	show, code, interval, err := ParseDeviceResponse(ev.Response, ev.Now)
	if err != nil {
		err = d.req.scrub(err)
		var oe *OAuthError
		if errors.As(err, &oe) {
			if d.registered && oe.Code == "invalid_client" {
				return d.refused(oe)
			}
			err = fmt.Errorf("%w: %w", ErrDeviceRequestRefused, oe)
		}
		return d.fail(err)
	}
	for _, u := range []string{show.VerificationURI, show.VerificationURIComplete} {
		if u == "" {
			continue
		}
		if err := d.meta.CheckSignInOrigin(u, false); err != nil {
			// Before the code is shown. The browser flow checks its own
			// page, which may pass.
			return d.fail(fmt.Errorf("device login: %w (a browser login may still work: --flow browser, or --paste where no browser runs)", err))
		}
	}
	d.code, d.interval, d.expires = code, interval, show.ExpiresAt
	d.phase = deviceWaiting
	return []Effect{*show, Wait{For: d.interval}}
}

func (d *Device) polled(in Event) []Effect {
	f, next, err := d.dp.step(in)
	if err != nil {
		return d.fail(fmt.Errorf("device login: %w", err))
	}
	if next != nil {
		return []Effect{next}
	}
	ev := *f
	if ev.Err != nil {
		// A transient network error while the user approves: keep polling,
		// more slowly (RFC 8628 §3.5 asks for back-off on timeouts).
		d.interval = min(2*d.interval, time.Minute)
		d.phase = deviceWaiting
		return []Effect{Warn{Message: fmt.Sprintf("polling %s failed (%v); retrying in %s", d.meta.TokenEndpoint, ev.Err, d.interval)}, Wait{For: d.interval}}
	}
	t, err := d.dp.parse(ev)
	var oe *OAuthError
	if errors.As(err, &oe) {
		switch oe.Code {
		case "authorization_pending":
			d.phase = deviceWaiting
			return []Effect{Wait{For: d.interval}}
		case "slow_down":
			d.interval += 5 * time.Second // for good (§3.5)
			d.phase = deviceWaiting
			return []Effect{Wait{For: d.interval}}
		case "expired_token":
			return d.fail(ErrDeviceCodeExpired)
		case "access_denied":
			return d.fail(fmt.Errorf("the login was denied: %w", d.req.scrub(err)))
		case "invalid_client":
			if d.registered {
				return d.refused(d.req.scrub(err))
			}
		}
	}
	if err != nil {
		return d.fail(fmt.Errorf("device login: %w", d.req.scrub(err)))
	}
	// No nonce in the device grant: iss and aud bind the ID token.
	if err := d.meta.checkBound(t, d.bind, "", d.cfg.Client.ID); err != nil {
		return d.fail(fmt.Errorf("device login: %w", err)) // before anything is saved (H7)
	}
	d.entry = newEntry(d.cfg.Target, d.cfg.Client.ID, d.cfg.Scopes, t, ev.Now, d.meta)
	d.entry.resolvedBy(d.cfg.Resolution)
	d.entry.DPoP = d.dp.key
	d.phase = deviceSaving
	return d.kp.begin(d.entry.Key(), d.entry, false)
}
