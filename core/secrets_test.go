package core

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/matryer/is"
)

// Every error and warning the core produces is checked against every secret
// in play: state, verifier, nonce, code, tokens, client secret (S25).
func TestErrors_NeverContainSecrets(t *testing.T) {
	const secret = "client-SECRET-xyz"
	var msgs []string
	var secrets []string
	collect := func(w *world, d Done) {
		if d.Err != nil {
			msgs = append(msgs, d.Err.Error(), fmt.Sprintf("%+v", d.Err), fmt.Sprintf("%#v", d.Err))
		}
		msgs = append(msgs, w.warnings...)
		if w.pending != nil {
			secrets = append(secrets, w.pending.State, w.pending.Verifier, w.pending.Nonce)
		}
		for _, e := range w.cache {
			secrets = append(secrets, e.AccessToken, e.RefreshToken)
		}
	}
	// A server that echoes the request form back in its error bodies.
	echo := func(status int, ct string) func(Request) (Response, error) {
		return func(r Request) (Response, error) {
			return Response{Status: status, ContentType: ct, Body: []byte(r.Body())}, nil
		}
	}
	echoErr := func(r Request) (Response, error) { return Response{}, errors.New("post failed") }
	faults := map[string]func(Request) (Response, error){
		"EchoHTML500": echo(500, "text/html"),
		"EchoJSON400": func(r Request) (Response, error) {
			return jsonResponse(400, map[string]string{"message": r.Body()}), nil
		},
		"EchoPlain200": echo(200, "text/plain"),
		"EchoJSONError": func(r Request) (Response, error) {
			return jsonResponse(400, map[string]string{"error": "invalid_grant", "detail": r.Body()}), nil
		},
		"TransportErr": echoErr,
		"EchoInDescription": func(r Request) (Response, error) {
			return jsonResponse(400, map[string]string{"error": "invalid_request", "error_description": "bad " + r.Body(), "error_uri": "https://e/?" + r.Body()}), nil
		},
	}
	for name, fault := range faults {
		t.Run("Login"+name, func(t *testing.T) {
			srv := newFakeServer(dbxIssuer)
			w := newWorld(t, srv)
			cfg := dbxLogin()
			cfg.Client.Secret = secret
			l := NewLogin(cfg)
			a := untilAuthorize(t, w, l, &counter{n: 9})
			q := srv.authorize(a.URL)
			secrets = append(secrets, q.Get("code"))
			w.onFetch = fault
			collect(w, finish(w, l, q))
		})
		t.Run("Refresh"+name, func(t *testing.T) {
			w := loggedIn(t, 60)
			collect(w, Done{}) // record the tokens before they change
			w.now = w.now.Add(time.Hour)
			w.onFetch = fault
			cfg := dbxToken()
			cfg.Client.Secret = secret
			collect(w, w.token(cfg))
		})
	}
	t.Run("BadCallbacks", func(t *testing.T) {
		w := newWorld(t, newFakeServer(dbxIssuer))
		l := NewLogin(dbxLogin())
		a := untilAuthorize(t, w, l, &counter{n: 3})
		state := authQuery(t, a).Get("state")
		for _, q := range []url.Values{
			{"state": {state + "x"}, "code": {"code-LEAK"}},
			{"state": {state}, "code": {"code-LEAK"}, "iss": {"https://evil"}},
		} {
			for _, e := range l.Step(Callback{Query: q, Now: w.now}) {
				switch e := e.(type) {
				case Reject:
					msgs = append(msgs, e.Err.Error())
				case Done:
					msgs = append(msgs, e.Err.Error())
				}
			}
		}
		secrets = append(secrets, "code-LEAK", state+"x")
		collect(w, Done{})
	})
	is := is.New(t)
	is.True(len(msgs) > 20)
	secrets = append(secrets, secret)
	for _, m := range msgs {
		for _, s := range secrets {
			if s != "" && strings.Contains(m, s) {
				t.Errorf("message leaks a secret %q…: %s", s[:min(4, len(s))], m)
			}
		}
	}
}
