package native

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/dualauth/dualauth/core"
	"github.com/matryer/is"
)

// A registration kept with keyring storage has its registration access
// token in the keyring, which a store hands out to the lock holder only:
// the login reads the registration under its lock, so the reused client is
// checked with that token (RFC 7592) before anyone signs in.
func TestLogin_AReusedRegistrationIsCheckedWithItsTokenFromTheKeyring(t *testing.T) {
	is := is.New(t)
	kr := &memKeyring{}
	s := &KeyringStore{File: &FileCache{Dir: t.TempDir()}, Mode: StorageKeyring, Keyring: kr, Timeout: time.Second}
	iss := "https://as.example"
	m := core.Metadata{Issuer: iss, TokenEndpoint: iss + "/token", AuthorizationEndpoint: iss + "/auth", RegistrationEndpoint: iss + "/reg"}
	reg := core.Entry{Host: iss, ClientID: "c1", RefreshToken: "rat-secret", Metadata: m,
		Registration: &core.Registration{Endpoint: iss + "/reg", ClientURI: iss + "/reg/c1", RedirectURIs: []string{"http://127.0.0.1/callback"}}}
	k := reg.Key()
	unlock, err := s.Lock(context.Background(), k)
	is.NoErr(err)
	is.NoErr(s.Save(k, reg))
	unlock()
	is.Equal(kr.item(k), "rat-secret") // kept in the keyring, not the file

	d := &Driver{Store: s}
	var check *core.Request
	login := core.NewLogin(core.LoginConfig{Target: core.Target{Host: iss}, RedirectURI: "http://127.0.0.1/callback",
		Resolution: &core.Resolution{Kind: core.KindIssuer, Issuer: iss, Metadata: m}})
	core.Drive(login, core.Start{Now: time.Now(), Rand: bytes.NewReader(make([]byte, 256))}, func(e core.Effect) core.Event {
		if f, ok := e.(core.Fetch); ok {
			check = &f.Request
			return core.Aborted{Err: context.Canceled}
		}
		return d.perform(context.Background(), e)
	})
	is.True(check != nil)
	is.Equal(check.URL, iss+"/reg/c1")
	is.Equal(check.Header["Authorization"], "Bearer rat-secret")
	is.Equal(len(d.unlocks), 0) // no lock held across the check
}
