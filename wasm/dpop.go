//go:build js && wasm

package main

import (
	"encoding/base64"
	"errors"
	"fmt"
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
	if !strings.HasPrefix(e.Key, dpopKeyPrefix) || e.Alg != core.AlgES256 {
		return core.Signed{Err: fmt.Errorf("%w: the browser signs with its own DPoP keys only", errBadArgument)}
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

// staleKey is the DPoP key of the stored entry under key that a save of
// next (nil: a delete) leaves unused.
func (d *driver) staleKey(key string, next *core.Entry) string {
	l := d.tokens.load([]string{key})
	if l.Err != nil || l.Entry == nil || l.Entry.DPoP == nil {
		return ""
	}
	if next != nil && next.DPoP != nil && next.DPoP.Key == l.Entry.DPoP.Key {
		return ""
	}
	return l.Entry.DPoP.Key
}

func (d *driver) dropKey(name string) {
	if name == "" || !strings.HasPrefix(name, dpopKeyPrefix) {
		return
	}
	if err := d.tokens.deleteValue(name); err != nil {
		jsGlobal.Get("console").Call("warn", "dualauth: the old DPoP key stays: "+err.Error())
	}
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
	if len(args) < 3 {
		return o, fmt.Errorf("%w: fetch(input, init, { host, clientId, resource })", errBadArgument)
	}
	t, err := parseTargetOptions(args[2:])
	o.targetOptions, o.input, o.init = t, args[0], args[1]
	return o, err
}

// apiFetch calls an API with the login's token: Authorization DPoP and a
// proof of this request for a DPoP login, Bearer otherwise. A 401 that asks
// for a DPoP nonce is answered once with a new proof; another 401 refreshes
// the token once and tries once more. It resolves to the API's Response.
func (d *driver) apiFetch(o fetchOptions) (any, error) {
	target, client, err := o.resolve(d)
	if err != nil {
		return nil, err
	}
	base, err := call(func() js.Value { return jsGlobal.Get("Request").New(o.input, o.init) })
	if err != nil {
		return nil, fmt.Errorf("%w: fetch: %v", errBadArgument, err)
	}
	method, reqURL := base.Get("method").String(), base.Get("url").String()
	token := func(force bool) (*core.Entry, error) {
		m := core.NewRefresh(core.RefreshConfig{Target: target, Client: client, Force: force})
		done := d.run(m, core.Start{Now: d.clock(), Rand: webCrypto{}})
		return done.Entry, done.Err
	}
	e, err := token(false)
	if err != nil {
		return nil, err
	}
	nonce := ""
	send := func(e *core.Entry) (js.Value, error) {
		req, err := call(func() js.Value { return base.Call("clone") })
		if err != nil {
			return js.Value{}, err
		}
		h := req.Get("headers")
		h.Call("set", "Authorization", core.Authorization(e.Token()))
		if e.DPoP != nil {
			sg, err := core.ResourceProof(e, method, reqURL, nonce, d.clock(), webCrypto{})
			if err != nil {
				return js.Value{}, err
			}
			s := d.sign(sg)
			if s.Err != nil {
				return js.Value{}, fmt.Errorf("signing the DPoP proof: %w", s.Err)
			}
			h.Call("set", "DPoP", core.CompactJWS(sg.Input, s.Signature))
		}
		p, err := call(func() js.Value { return jsGlobal.Call("fetch", req) })
		if err != nil {
			return js.Value{}, fmt.Errorf("%w: %v", errNetwork, err)
		}
		resp, err := await(p)
		if err != nil {
			return js.Value{}, fmt.Errorf("%w (%v)", errNetwork, err)
		}
		if n := header(resp, "dpop-nonce"); n != "" {
			nonce = n
		}
		return resp, nil
	}
	resp, err := send(e)
	if err != nil {
		return nil, err
	}
	status := resp.Get("status").Int()
	if e.DPoP != nil && core.ResourceNonce(status, header(resp, "www-authenticate"), header(resp, "dpop-nonce")) != "" {
		if resp, err = send(e); err != nil {
			return nil, err
		}
		status = resp.Get("status").Int()
	}
	if status == 401 {
		fresh, err := token(true)
		if err != nil || fresh.AccessToken == e.AccessToken {
			return resp, nil // the API's own answer says the rest
		}
		return send(fresh)
	}
	return resp, nil
}

func header(resp js.Value, name string) string {
	v := resp.Get("headers").Call("get", name)
	if v.Type() == js.TypeString {
		return v.String()
	}
	return ""
}
