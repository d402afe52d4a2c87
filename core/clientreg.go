package core

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
)

// clientReg is the client of a login without a client ID, shared by the
// browser ([Login]) and device ([Device]) machines: the one registered at
// the issuer before for that flow (S32: bound to that issuer), checked
// when the server lets it be read (RFC 7592); else a new registration (RFC
// 7591), kept for the next login. It also forgets a client the server
// refused, so that the next login registers again.
//
// Lock → Load → Unlock → [Fetch check] → [Fetch register → Lock → Save →
// Unlock]; forget: Lock → Save (refused) → Unlock. No lock is held across
// a request.
type clientReg struct {
	meta     Metadata
	redirect string // the browser's redirect URI; "" registers for the device grant
	movable  bool   // the driver can move its listener to a registered redirect URI (Listen)
	appType  string
	dpop     bool // ask for DPoP-bound tokens (RFC 9449 §5.2)
	phase    regPhase
	locked   bool  // the registration's lock is held
	renewed  bool  // registered again after the server forgot the client
	rec      Entry // the registration record being saved

	prev *Entry // the registration found, while the listener moves to its redirect URI

	// The outcome, once step reports done: from is saved with the login
	// (where and when the client was registered), said is what the user
	// is told now.
	id, from, said string
	dpopBound      bool
	// forgotten is what the login ends with once a refused client is
	// marked (see refuse).
	forgotten error
}

// regNext is what a login does after [clientReg.run].
type regNext int

const (
	regWaiting regNext = iota // the sub-machine waits for the answer to its effects
	regChosen                 // the client is known (c.id): the login goes on
	regOver                   // the login ends with the effects returned
)

type regPhase int

const (
	regIdle        regPhase = iota
	regFindLocking          // Lock: the registration, so a store hands out its token
	regFinding              // Load: the client registered before
	regChecking             // Fetch: does it still exist (RFC 7592)?
	regRegistering          // Fetch: register a client (RFC 7591)
	regLocking
	regSaving
	regForgetLocking // Lock, then mark the registration the server refused
	regForgetting
	regListening // Listen: on the redirect URI the client was registered with
	regDone
)

// begin starts looking for the client.
func (c *clientReg) begin() ([]Effect, error) {
	if c.meta.RegistrationEndpoint == "" {
		return nil, fmt.Errorf("%w for %s: the server does not let clients register themselves (no registration_endpoint in its metadata); pass --client-id with a client registered there",
			ErrNoClient, c.meta.Issuer)
	}
	c.phase = regFindLocking
	return []Effect{Lock{Key: c.key()}}, nil
}

func (c *clientReg) device() bool { return c.redirect == "" }

func (c *clientReg) key() string {
	if c.device() {
		return DeviceRegistrationKey(c.meta.Issuer)
	}
	return RegistrationKey(c.meta.Issuer)
}

// run is the step of the browser and device machines alike while the
// sub-machine runs: the effects to return and what follows. Once the
// client is chosen they end with [ClientChosen]; when the login is over,
// with its [Done] (an error, or the refusal a forget was for).
func (c *clientReg) run(ev Event) ([]Effect, regNext) {
	effs, done, err := c.step(ev)
	switch {
	case c.forgotten != nil && (done || err != nil):
		return append(effs, Done{Err: c.forgotten}), regOver
	case err != nil:
		return append(effs, Done{Err: err}), regOver
	case !done:
		return effs, regWaiting
	}
	return append(effs, ClientChosen{ClientID: c.id, From: c.said}), regChosen
}

// step advances the search (or the forget). done says it is over: the
// effects returned come first, then the login goes on with c.id (or ends,
// after a forget). An error ends the login after the effects returned
// (an Unlock of what is held).
func (c *clientReg) step(ev Event) (effs []Effect, done bool, err error) {
	switch ev := ev.(type) {
	case Locked:
		switch c.phase {
		case regFindLocking:
			// Without the lock the registration is still read, minus the
			// token that a store gives only to the lock holder (keyring).
			c.locked = ev.Err == nil
			c.phase = regFinding
			return []Effect{Load{Keys: []string{c.key()}}}, false, nil
		case regLocking:
			if ev.Err != nil {
				// The client works for this login even if it cannot be kept.
				return c.finish(Warn{Message: fmt.Sprintf("could not keep the registered client for the next login: %v", ev.Err)})
			}
			c.locked = true
			c.phase = regSaving
			return []Effect{Save{Key: c.key(), Entry: c.rec}}, false, nil
		case regForgetLocking:
			if ev.Err != nil {
				c.phase = regDone
				return nil, true, nil
			}
			c.locked = true
			c.phase = regForgetting
			return []Effect{Save{Key: c.key(), Entry: c.rec}}, false, nil
		}
	case Loaded:
		if c.phase == regFinding {
			effs, done, err := c.found(ev)
			if c.locked {
				c.locked = false
				effs = append([]Effect{Unlock{c.key()}}, effs...)
			}
			return effs, done, err
		}
	case Fetched:
		switch c.phase {
		case regChecking:
			return c.checked(ev)
		case regRegistering:
			return c.registered(ev)
		}
	case Saved:
		switch c.phase {
		case regSaving:
			c.locked = false
			if ev.Err != nil {
				return c.finish(Unlock{c.key()}, Warn{Message: fmt.Sprintf("could not keep the registered client for the next login: %v", ev.Err)})
			}
			return c.finish(Unlock{c.key()})
		case regForgetting:
			c.locked = false
			c.phase = regDone
			return []Effect{Unlock{c.key()}}, true, nil
		}
	case Listening:
		if c.phase == regListening {
			return c.listened(ev)
		}
	case Aborted:
		return c.release(), false, ev.Err
	}
	return c.release(), false, fmt.Errorf("client registration: unexpected %T in phase %d", ev, c.phase)
}

// release unlocks what is held, for a login that ends.
func (c *clientReg) release() []Effect {
	c.phase = regDone
	if c.locked {
		c.locked = false
		return []Effect{Unlock{c.key()}}
	}
	return nil
}

func (c *clientReg) finish(effs ...Effect) ([]Effect, bool, error) {
	c.phase = regDone
	return effs, true, nil
}

func (c *clientReg) found(ev Loaded) ([]Effect, bool, error) {
	e := ev.Entry
	if ev.Err != nil || e == nil || e.Registration == nil || e.ClientID == "" || e.Registration.Device() != c.device() ||
		Key(e.Metadata.Issuer, "") != Key(c.meta.Issuer, "") {
		return c.register()
	}
	if e.Registration.Refused {
		// The token endpoint refused it at the last login (see forget).
		return c.renew(fmt.Sprintf("the server refused client %s that dualauth registered at %s at the last login; registering a new one", Sanitize(e.ClientID), c.meta.Issuer))
	}
	if !c.device() && !slices.Contains(e.Registration.RedirectURIs, c.redirect) {
		// Servers compare redirect URIs exactly, port included: the
		// client is reused with the one it was registered with, or not
		// at all.
		if uri := movableTo(e.Registration.RedirectURIs); c.movable && uri != "" {
			c.prev, c.phase = e, regListening
			return []Effect{Listen{RedirectURI: uri}}, false, nil
		}
		return c.renew(fmt.Sprintf("client %s that dualauth registered at %s allows redirect URI %s only, not %s; registering a new one",
			Sanitize(e.ClientID), c.meta.Issuer, Sanitize(strings.Join(e.Registration.RedirectURIs, " ")), c.redirect))
	}
	return c.reuse(e)
}

// reuse takes the client registered before, checking first that the
// server still knows it when it lets that be read (RFC 7592).
func (c *clientReg) reuse(e *Entry) ([]Effect, bool, error) {
	c.id, c.from = e.ClientID, "registered at "+e.Registration.Endpoint+" on "+e.Registration.RegisteredAt.UTC().Format(time.RFC3339)
	c.said = c.from
	c.dpopBound = e.Registration.DPoPBound
	if e.Registration.ClientURI != "" && e.RefreshToken != "" && SameOrigin(e.Registration.ClientURI, e.Registration.Endpoint) {
		c.phase = regChecking
		return []Effect{Fetch{Request: readRegistrationRequest(e.Registration.ClientURI, e.RefreshToken)}}, false, nil
	}
	return c.finish()
}

// listened goes on with the client found once the listener is on its
// redirect URI; a port that is taken gets a new client, and says why.
func (c *clientReg) listened(ev Listening) ([]Effect, bool, error) {
	e := c.prev
	c.prev = nil
	uri := movableTo(e.Registration.RedirectURIs)
	if ev.Err != nil {
		return c.renew(fmt.Sprintf("cannot receive the login at %s, the redirect URI client %s was registered with (%v); registering a new client",
			uri, Sanitize(e.ClientID), ev.Err))
	}
	c.redirect = uri
	return c.reuse(e)
}

// movableTo is the registered redirect URI a loopback listener can move
// to: http on a loopback host with an explicit port.
func movableTo(registered []string) string {
	for _, r := range registered {
		if u, err := url.Parse(r); err == nil && u.Port() != "" {
			if _, err := parseLoopback(r); err == nil {
				return r
			}
		}
	}
	return ""
}

// checked reads the answer about the stored client: a server that no
// longer knows it (401, 403, 404) gets a new registration, once; any other
// answer keeps it.
func (c *clientReg) checked(ev Fetched) ([]Effect, bool, error) {
	if ev.Err == nil && !c.renewed && (ev.Response.Status == 401 || ev.Response.Status == 403 || ev.Response.Status == 404) {
		return c.renew(fmt.Sprintf("the server no longer knows client %s that dualauth registered at %s; registering a new one", Sanitize(c.id), c.meta.Issuer))
	}
	return c.finish()
}

// renew registers again, once, and says so.
func (c *clientReg) renew(why string) ([]Effect, bool, error) {
	c.renewed = true
	effs, done, err := c.register()
	return append([]Effect{Warn{Message: why}}, effs...), done, err
}

func (c *clientReg) register() ([]Effect, bool, error) {
	c.phase = regRegistering
	return []Effect{Fetch{Request: registrationRequest(c.meta.RegistrationEndpoint, c.redirect, c.appType, c.dpop)}}, false, nil
}

func (c *clientReg) registered(ev Fetched) ([]Effect, bool, error) {
	m := c.meta
	c.phase = regDone
	if errors.Is(ev.Err, ErrTooLarge) { // its own stable code (response_too_large in the browser)
		return nil, false, fmt.Errorf("registering a client at %s: %w", m.RegistrationEndpoint, ErrTooLarge)
	}
	if ev.Err != nil {
		return nil, false, fmt.Errorf("registering a client at %s failed: %v", m.RegistrationEndpoint, ev.Err)
	}
	rc, err := ParseRegistration(ev.Response)
	if err != nil {
		return nil, false, fmt.Errorf("registering a client at %s: %w", m.RegistrationEndpoint, err)
	}
	c.id, c.dpopBound = rc.ClientID, c.dpop
	c.from = "registered at " + m.RegistrationEndpoint + " on " + ev.Now.UTC().Format(time.RFC3339)
	c.said = "registered at " + m.RegistrationEndpoint + " just now"
	if !SameOrigin(rc.RegistrationClientURI, m.RegistrationEndpoint) {
		// The registration access token goes nowhere but the server that
		// registered the client: a URI elsewhere is not kept (and a record
		// kept before is not read, see reuse).
		rc.RegistrationClientURI = ""
	}
	reg := &Registration{Endpoint: m.RegistrationEndpoint, ClientURI: rc.RegistrationClientURI,
		ApplicationType: c.appType, RegisteredAt: ev.Now, DPoPBound: c.dpop, GrantTypes: registeredGrants(c.redirect)}
	if !c.device() {
		reg.RedirectURIs = []string{c.redirect}
	}
	c.rec = Entry{Host: m.Issuer, ClientID: rc.ClientID, RefreshToken: rc.RegistrationAccessToken, ObtainedAt: ev.Now, Metadata: m, Registration: reg}
	c.phase = regLocking
	return []Effect{Lock{Key: c.key()}}, false, nil
}

// refuse ends a login whose registered client id the token endpoint
// refused (err, invalid_client): the client is marked refused (see forget)
// and the login ends with that error, whatever the store answers; no new
// registration now, as the user would have to approve again.
func (c *clientReg) refuse(id string, err error) []Effect {
	c.forgotten = forgottenError(id, err)
	return c.forget(id)
}

// forget marks the client the token endpoint refused as refused, under the
// lock, so that the next login registers a new one and says why; the
// login ends after it (done) whatever the store answers.
func (c *clientReg) forget(id string) []Effect {
	reg := Registration{Refused: true}
	if c.device() {
		reg.GrantTypes = registeredGrants("")
	}
	c.rec = Entry{Host: c.meta.Issuer, ClientID: id, Metadata: c.meta, Registration: &reg}
	c.phase = regForgetLocking
	return []Effect{Lock{Key: c.key()}}
}

// ErrClientForgotten: the token endpoint refused a client dualauth had
// registered; the registration is dropped so that the next login
// registers again.
var ErrClientForgotten = errors.New("the server no longer accepts the client dualauth registered")

// forgottenError is the one line a login refused with invalid_client ends
// with: what happened, and that the same command registers a new client.
func forgottenError(id string, err error) error {
	return fmt.Errorf("%w (%s): %w; run the same login command again: it registers a new client", ErrClientForgotten, Sanitize(id), err)
}

func parseLoopback(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "http" || !IsLoopback(u.Hostname()) {
		return "", errors.New("not a loopback URI")
	}
	u.Host = u.Hostname()
	return u.String(), nil
}
