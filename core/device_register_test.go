package core

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/matryer/is"
)

// deviceRegWorld is an issuer with the device grant and open dynamic
// registration (RFC 7591, 7592); regBodies are the registrations asked.
type deviceRegWorld struct {
	*world
	n         *web
	s         *deviceServer
	res       *Resolution
	regBodies []map[string]any
}

func newDeviceRegWorld(t *testing.T) *deviceRegWorld {
	t.Helper()
	s := &deviceServer{fakeServer: newFakeServer("https://idp.example.com")}
	s.openID = true
	s.meta["device_authorization_endpoint"] = s.issuer + "/v1/device"
	s.meta["registration_endpoint"] = s.issuer + "/reg"
	w, n := newWebWorld(t, s.fakeServer)
	dw := &deviceRegWorld{world: w, n: n, s: s}
	device := s.perform(w)
	w.onFetch = func(r Request) (Response, error) {
		if r.URL == s.issuer+"/v1/device" || r.Form.Get("grant_type") == DeviceGrantType {
			return device(r)
		}
		if r.Method == "POST" && r.URL == s.issuer+"/reg" {
			var body map[string]any
			is.New(t).NoErr(json.Unmarshal(r.JSON, &body))
			dw.regBodies = append(dw.regBodies, body)
		}
		return n.serve(r)
	}
	res, err := w.resolve(Target{Host: s.issuer})
	is.New(t).NoErr(err)
	dw.res = res
	return dw
}

// device runs a device login without a client ID, approved at the first
// poll; Wait advances the clock.
func (w *deviceRegWorld) device() Done {
	w.s.polls = []string{"ok"}
	w.logf("# device login %s", w.s.issuer)
	d := Drive(NewDevice(DeviceConfig{Target: Target{Host: w.s.issuer}, Scopes: w.res.Scopes, Resolution: w.res}), Start{Now: w.now}, func(e Effect) Event {
		switch e := e.(type) {
		case Wait:
			w.logf("Wait %s", e.For)
			w.now = w.now.Add(e.For)
			return Waited{Now: w.now}
		case ShowCode:
			w.logf("ShowCode %s", e.UserCode)
			return nil
		}
		return w.perform(e)
	})
	w.logDone(d)
	return d
}

// A device login without a client registers one for the device grant —
// grants device_code and refresh_token, no redirect URI, no response type —
// keeps it under its own key and reuses it (checked, RFC 7592); a browser
// login on the same issuer registers its own (see DeviceRegistrationKey).
func TestTranscript_DeviceLoginRegistersItsOwnClientOnceAndReusesIt(t *testing.T) {
	is := is.New(t)
	w := newDeviceRegWorld(t)
	d := w.device()
	is.NoErr(d.Err)
	is.Equal(d.Entry.ClientID, "dyn-1")
	is.Equal(d.Entry.Resolution.ClientIDFrom, "registered at https://idp.example.com/reg on 2026-11-28T12:00:00Z")
	is.Equal(w.clients, []string{"dyn-1, registered at https://idp.example.com/reg just now"})
	is.Equal(len(w.regBodies), 1)
	body := w.regBodies[0]
	is.Equal(body["grant_types"], []any{DeviceGrantType, "refresh_token"})
	is.Equal(body["response_types"], []any{})
	is.Equal(body["token_endpoint_auth_method"], "none")
	is.Equal(body["application_type"], "native")
	_, hasRedirect := body["redirect_uris"]
	is.True(!hasRedirect)
	is.Equal(w.s.form[len(w.s.form)-2].Get("client_id"), "dyn-1") // the device authorization request
	reg, ok := w.cache[DeviceRegistrationKey("https://idp.example.com")]
	is.True(ok)
	is.Equal(reg.RefreshToken, "regtok-dyn-1")
	is.True(reg.Registration.Device())
	is.Equal(len(reg.Registration.RedirectURIs), 0)
	_, browser := w.cache[RegistrationKey("https://idp.example.com")]
	is.True(!browser)

	d = w.device()
	is.NoErr(d.Err)
	is.Equal(d.Entry.ClientID, "dyn-1")
	is.True(strings.HasPrefix(d.Entry.Resolution.ClientIDFrom, "registered at https://idp.example.com/reg on "))
	is.Equal(w.n.registered, 1) // two logins, one registration
	is.Equal(w.n.regTokenSeen, []string{"Bearer regtok-dyn-1"})

	// The browser's registration is another: it needs a redirect URI and
	// the code grant, which the device client does not have.
	b := w.loginResolved(Target{Host: "https://idp.example.com"}, w.res, "")
	is.NoErr(b.Err)
	is.Equal(b.Entry.ClientID, "dyn-2")
	is.Equal(w.regBodies[1]["grant_types"], []any{"authorization_code", "refresh_token"})
	is.Equal(w.cache[DeviceRegistrationKey("https://idp.example.com")].ClientID, "dyn-1")
	is.Equal(w.cache[RegistrationKey("https://idp.example.com")].ClientID, "dyn-2")
	checkTranscript(t, "register-device", w.transcript())
}

// A registration kept for the browser never serves a device login, even
// planted under the device grant's key.
func TestDevice_ABrowserRegistrationDoesNotServeTheDeviceGrant(t *testing.T) {
	is := is.New(t)
	w := newDeviceRegWorld(t)
	w.cache[DeviceRegistrationKey("https://idp.example.com")] = Entry{ClientID: "browser-client", Metadata: Metadata{Issuer: "https://idp.example.com"},
		Registration: &Registration{Endpoint: "https://idp.example.com/reg", RedirectURIs: []string{"http://127.0.0.1/callback"}}}
	d := w.device()
	is.NoErr(d.Err)
	is.Equal(d.Entry.ClientID, "dyn-1")
	is.Equal(w.n.registered, 1)
}

// The server refusing the registered client at the device authorization
// request ends that login in one line that says the same command
// registers a new client; the next device login does, and says why.
func TestDevice_RefusedRegisteredClientMakesTheNextLoginRegisterAgain(t *testing.T) {
	is := is.New(t)
	w := newDeviceRegWorld(t)
	is.NoErr(w.device().Err)
	w.s.authRes = func() Response { return jsonResponse(401, map[string]string{"error": "invalid_client"}) }
	w.now = w.now.Add(time.Hour)
	d := w.device()
	is.True(errors.Is(d.Err, ErrClientForgotten))
	is.True(strings.Contains(d.Err.Error(), "(dyn-1)"))
	is.True(strings.Contains(d.Err.Error(), "run the same login command again: it registers a new client"))
	is.True(w.cache[DeviceRegistrationKey("https://idp.example.com")].Registration.Refused)

	w.s.authRes = nil
	d = w.device()
	is.NoErr(d.Err)
	is.Equal(d.Entry.ClientID, "dyn-2")
	is.Equal(w.n.registered, 2)
	is.Equal(len(w.warnings), 1)
	is.True(strings.Contains(w.warnings[0], "refused client dyn-1"))
}

// Without a registration endpoint a device login without a client asks for
// --client-id before any request of its own.
func TestDevice_NoClientAndNoRegistrationAsksForClientID(t *testing.T) {
	is := is.New(t)
	w := newDeviceRegWorld(t)
	delete(w.s.meta, "registration_endpoint")
	w.res.Metadata.RegistrationEndpoint = ""
	d := w.device()
	is.True(errors.Is(d.Err, ErrNoClient))
	is.True(strings.Contains(d.Err.Error(), "pass --client-id"))
	is.Equal(len(w.s.form), 0) // no device authorization request
}
