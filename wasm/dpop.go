//go:build js && wasm

package main

import (
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"syscall/js"

	"github.com/dualauth/dualauth/core"
)

// DPoP in the browser (RFC 9449): the key of a login is a WebCrypto ECDSA
// P-256 key made with extractable: false and kept, as the CryptoKey
// object itself, in the origin's IndexedDB. Script on the page can ask the
// browser to sign with it, but no API hands out its private part, so a
// token and refresh token read out of storage are worthless elsewhere
// (S36). The core builds every proof; this file performs the CreateKey and
// Sign effects.

// dpopKeyPrefix starts the names of keys in the key store (and in
// core.DPoPKey.Key).
const dpopKeyPrefix = "dpop:idb:"

func subtle() (js.Value, error) {
	c := jsGlobal.Get("crypto")
	if !c.Truthy() || !c.Get("subtle").Truthy() {
		return js.Value{}, errors.New("this browser has no WebCrypto (crypto.subtle needs a secure context: https or localhost)")
	}
	return c.Get("subtle"), nil
}

func ecdsaParams() js.Value {
	return js.ValueOf(map[string]any{"name": "ECDSA", "namedCurve": "P-256", "hash": "SHA-256"})
}

// createKey makes a non-extractable P-256 key pair, stores the private
// CryptoKey in IndexedDB and returns its name and public JWK.
func (d *driver) createKey(e core.CreateKey) core.KeyCreated {
	if e.Alg != core.AlgES256 {
		return core.KeyCreated{Err: fmt.Errorf("DPoP keys are ES256, not %s", e.Alg)}
	}
	s, err := subtle()
	if err != nil {
		return core.KeyCreated{Err: err}
	}
	p, err := call(func() js.Value {
		return s.Call("generateKey", ecdsaParams(), false, js.ValueOf([]any{"sign", "verify"}))
	})
	if err != nil {
		return core.KeyCreated{Err: err}
	}
	pair, err := await(p)
	if err != nil {
		return core.KeyCreated{Err: fmt.Errorf("generating the DPoP key: %w", err)}
	}
	jwkP, err := call(func() js.Value { return s.Call("exportKey", "jwk", pair.Get("publicKey")) })
	if err != nil {
		return core.KeyCreated{Err: err}
	}
	pub, err := await(jwkP)
	if err != nil {
		return core.KeyCreated{Err: fmt.Errorf("reading the DPoP public key: %w", err)}
	}
	var id [16]byte
	if _, err := (webCrypto{}).Read(id[:]); err != nil {
		return core.KeyCreated{Err: err}
	}
	name := dpopKeyPrefix + base64.RawURLEncoding.EncodeToString(id[:])
	if err := d.tokens.putValue(name, pair.Get("privateKey")); err != nil {
		return core.KeyCreated{Err: fmt.Errorf("storing the DPoP key: %w", err)}
	}
	jwk := core.JWK{Kty: str(pub, "kty"), Crv: str(pub, "crv"), X: str(pub, "x"), Y: str(pub, "y")}
	return core.KeyCreated{Key: name, JWK: jwk}
}

func str(o js.Value, k string) string {
	if v := o.Get(k); v.Type() == js.TypeString {
		return v.String()
	}
	return ""
}

// sign signs a JWS signing input with the stored CryptoKey: WebCrypto's
// ECDSA signature is R||S already, as JWS wants (RFC 7518 §3.4).
func (d *driver) sign(e core.Sign) core.Signed {
	if e.Alg != core.AlgES256 { // the key is one of its own: the driver checked its name
		return core.Signed{Err: fmt.Errorf("%w: the browser signs ES256 only", errBadArgument)}
	}
	key, err := d.tokens.getValue(e.Key)
	if err != nil {
		return core.Signed{Err: err}
	}
	if key.Type() != js.TypeObject {
		return core.Signed{Err: errors.New("the DPoP key of this login is gone from this browser: log in again")}
	}
	s, err := subtle()
	if err != nil {
		return core.Signed{Err: err}
	}
	data := jsGlobal.Get("Uint8Array").New(len(e.Input))
	js.CopyBytesToJS(data, e.Input)
	p, err := call(func() js.Value { return s.Call("sign", ecdsaParams(), key, data) })
	if err != nil {
		return core.Signed{Err: err}
	}
	buf, err := await(p)
	if err != nil {
		return core.Signed{Err: fmt.Errorf("signing with the DPoP key: %w", err)}
	}
	sig := make([]byte, buf.Get("byteLength").Int())
	js.CopyBytesToGo(sig, jsGlobal.Get("Uint8Array").New(buf))
	return core.Signed{Signature: sig}
}

// dropKey deletes a DPoP key no login uses: one the core names
// (core.DropKey), or one of a pending login the driver expired.
func (d *driver) dropKey(name string) {
	if name == "" || !strings.HasPrefix(name, dpopKeyPrefix) {
		return
	}
	if err := d.tokens.deleteValue(name); err != nil {
		d.say("warn", "dualauth: the old DPoP key stays: "+err.Error())
	}
}

// workerAliveLock is held (shared) by every live worker-mode program of
// the origin for its whole life: two can share `dualauth-worker` (pages
// that load different wasm URLs get different SharedWorkers).
const workerAliveLock = "dualauth.v1.worker.alive"

// startWorker deletes the DPoP keys the worker mode's earlier workers left
// (dropUnusedKeys) — only when no other worker is alive, whose logins,
// in its memory, would still use theirs — and then marks this one alive.
// It runs before the API is handed out, so no login of this worker is
// making a key meanwhile. stop ends the mark (tests; a worker keeps it
// until it goes away).
func (d *driver) startWorker() (stop func()) {
	if release, ok, err := tryLock(workerAliveLock, "exclusive", true); err == nil && ok {
		d.dropUnusedKeys()
		release()
	}
	alive, _, err := tryLock(workerAliveLock, "shared", false)
	if err != nil {
		d.say("warn", "dualauth: "+err.Error())
		return func() {}
	}
	return alive
}

// dropUnusedKeys deletes the DPoP keys in the key store that no pending
// login and no stored entry names (core.UnusedKeys), after dropping the
// pending logins that can no longer complete. In the worker mode the
// logins of the worker before lived in its memory, and their keys would
// otherwise stay in IndexedDB for good.
func (d *driver) dropUnusedKeys() {
	for _, k := range d.local.dropStalePending(d.clock()) {
		d.dropKey(k)
	}
	stored, err := d.tokens.valueKeys()
	if err != nil {
		d.say("warn", "dualauth: old DPoP keys stay: "+err.Error())
		return
	}
	d.dropKeysNotInUse(stored, "old DPoP keys")
}

// dropKeysNotInUse deletes those of the DPoP keys names that no readable
// login and no pending login uses (core.UnusedKeys). When the logins
// cannot be read, which keys are in use is unknown and none goes: a key
// left behind is harmless, a live login's key deleted is not.
func (d *driver) dropKeysNotInUse(names []string, what string) {
	pending := slices.Collect(maps.Values(d.local.pendings()))
	entries, err := d.tokens.entries()
	if err != nil {
		d.say("warn", "dualauth: "+what+" stay: "+err.Error())
		return
	}
	for _, k := range core.UnusedKeys(names, pending, entries) {
		d.dropKey(k)
	}
}

// valueKeys lists the names in the key store.
func (s *idbStore) valueKeys() ([]string, error) {
	res, err := s.txOn(keyStore, "readonly", func(st js.Value) []js.Value {
		return []js.Value{st.Call("getAllKeys")}
	})
	if err != nil {
		return nil, err
	}
	var out []string
	for i := range res[0].Length() {
		if k := res[0].Index(i); k.Type() == js.TypeString {
			out = append(out, k.String())
		}
	}
	return out, nil
}

// putValue stores any structured-clonable value (a CryptoKey) under key,
// in the key store.
func (s *idbStore) putValue(key string, v js.Value) error {
	_, err := s.txOn(keyStore, "readwrite", func(st js.Value) []js.Value {
		return []js.Value{st.Call("put", v, key)}
	})
	return err
}

// deleteValue removes the value under key in the key store.
func (s *idbStore) deleteValue(key string) error {
	_, err := s.txOn(keyStore, "readwrite", func(st js.Value) []js.Value {
		return []js.Value{st.Call("delete", key)}
	})
	return err
}

// getValue reads the value under key in the key store (undefined when
// there is none).
func (s *idbStore) getValue(key string) (js.Value, error) {
	res, err := s.txOn(keyStore, "readonly", func(st js.Value) []js.Value {
		return []js.Value{st.Call("get", key)}
	})
	if err != nil {
		return js.Value{}, err
	}
	return res[0], nil
}

type fetchOptions struct {
	targetOptions
	input, init js.Value
}

func parseFetchArgs(args []js.Value) (fetchOptions, error) {
	var o fetchOptions
	if len(args) < 1 {
		return o, fmt.Errorf("%w: fetch(input, init, { host, clientId, resource })", errBadArgument)
	}
	// Without host or resource, the URL finds its login (apiFetch).
	t, err := parseTargetFields(args[min(len(args), 2):])
	o.targetOptions, o.input, o.init = t, args[0], js.Undefined()
	if len(args) > 1 {
		o.init = args[1]
	}
	return o, err
}

// apiFetch calls an API with the login's token: it performs
// core.ResourceCall, which says what to send (Authorization DPoP and a
// proof of this request for a DPoP login, Bearer otherwise), answers a 401
// that asks for a DPoP nonce once with a new proof, and refreshes the token
// once after another 401. It resolves to the API's last Response — also
// when the refresh after a 401 failed: the API's own answer says the rest.
func (d *driver) apiFetch(o fetchOptions) (any, error) {
	base, err := call(func() js.Value { return jsGlobal.Get("Request").New(o.input, o.init) })
	if err != nil {
		return nil, fmt.Errorf("%w: fetch: %v", errBadArgument, err)
	}
	method, reqURL := base.Get("method").String(), base.Get("url").String()
	if o.host == "" && o.resource == "" {
		if o.host = d.loginForURL(reqURL); o.host == "" {
			return nil, fmt.Errorf("%w: no login's resource contains %s: pass { host }", errBadArgument, reqURL)
		}
	}
	target, client, err := o.resolve(d)
	if err != nil {
		return nil, err
	}
	var last js.Value
	send := func(e core.FetchResource) core.Event {
		// The browser follows redirects itself (a 3xx never reaches the
		// core), so every request is this one, with or without a retry.
		if e.Request.URL != reqURL || e.Request.Method != method || !e.Body {
			return core.Fetched{Err: fmt.Errorf("dualauth.fetch: the browser cannot send %s %s in place of %s %s", e.Request.Method, e.Request.URL, method, reqURL)}
		}
		req, err := call(func() js.Value {
			c := base.Call("clone")
			if _, proved := e.Request.Header["DPoP"]; proved {
				// The browser would follow a redirect with this proof (for
				// another URL) and, cross-origin, still send the DPoP
				// header: the caller gets the redirect itself instead.
				c = jsGlobal.Get("Request").New(c, map[string]any{"redirect": "manual"})
			}
			return c
		})
		if err != nil {
			return core.Fetched{Err: err}
		}
		h := req.Get("headers")
		for k, v := range e.Request.Header {
			h.Call("set", k, v)
		}
		p, err := call(func() js.Value { return jsGlobal.Call("fetch", req) })
		if err != nil {
			return core.Fetched{Err: fmt.Errorf("%w: %v", errNetwork, err)}
		}
		resp, err := await(p)
		if err != nil {
			return core.Fetched{Err: fmt.Errorf("%w (%v)", errNetwork, err)}
		}
		last = resp
		return core.Fetched{Now: d.clock(), Response: core.Response{
			Status:          resp.Get("status").Int(),
			ContentType:     header(resp, "content-type"),
			WWWAuthenticate: header(resp, "www-authenticate"),
			DPoPNonce:       header(resp, "dpop-nonce"),
		}}
	}
	m := core.NewResourceCall(core.ResourceCallConfig{
		Token:  core.RefreshConfig{Target: target, Client: client},
		Method: method,
		URL:    reqURL,
		// The resource's nonce is kept with the login, as natively: the
		// next call's first proof carries it (this page's or another's),
		// saving the 401 round trip.
		KeepNonces: true,
		// A 403 insufficient_scope names the page's call, login({ host,
		// scopes }), not the CLI's command.
		LoginForm: core.LoginCall,
	})
	done := d.runWith(m, core.Start{Now: d.clock(), Rand: webCrypto{}}, send)
	if done.Response != nil && last.Truthy() {
		return last, nil
	}
	if done.Err == nil {
		done.Err = errors.New("dualauth.fetch: the call ended without a response")
	}
	return nil, done.Err
}

func header(resp js.Value, name string) string {
	v := resp.Get("headers").Call("get", name)
	if v.Type() == js.TypeString {
		return v.String()
	}
	return ""
}
