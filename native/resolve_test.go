package native

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/dualauth/dualauth/core"
	"github.com/matryer/is"
)

func TestResolveClientID_PicksTheOnlyLoggedInClientOrTheDefault(t *testing.T) {
	c := &FileCache{Dir: t.TempDir()}
	save(t, c, entry("https://one.example", "cli-a", "a"))
	save(t, c, entry("https://two.example", "cli-a", "b"))
	save(t, c, entry("https://two.example", "cli-b", "c"))
	for _, tc := range []struct {
		name, host, given, want, err string
	}{
		{name: "given wins", host: "https://two.example", given: "x", want: "x"},
		{name: "Databricks default", host: "https://adb-1.2.azuredatabricks.net", want: DatabricksClientID},
		{name: "the only client of the host", host: "https://one.example", want: "cli-a"},
		{name: "none logged in", host: "https://three.example", want: ""},
		{name: "several: ask", host: "https://two.example", err: "ambiguous client: several clients are logged in to https://two.example (cli-a, cli-b): pass --client-id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			got, err := ResolveClientID(c, core.Target{Host: tc.host}, tc.given)
			if tc.err != "" {
				is.True(err != nil)
				is.Equal(err.Error(), tc.err)
				return
			}
			is.NoErr(err)
			is.Equal(got, tc.want)
		})
	}
}

// Logins whose clients dualauth registered itself (one per flow, or a new
// one after the server refused the old) are not the user's choice to make:
// the newest is used. One client the user named among them still asks.
func TestResolveClientID_AmongClientsDualauthRegisteredTheNewestLoginWins(t *testing.T) {
	is := is.New(t)
	c := &FileCache{Dir: t.TempDir()}
	iss := "https://reg.example"
	registered := func(client, access string, at time.Time) core.Entry {
		e := entry(iss, client, access)
		e.ObtainedAt = at
		e.Resolution = &core.Resolution{Kind: core.KindIssuer, Issuer: iss, ClientID: client, ClientRegistered: true}
		return e
	}
	now := time.Now()
	save(t, c, registered("dyn-browser", "a", now.Add(-time.Hour)))
	save(t, c, registered("dyn-device", "b", now))
	got, err := ResolveClientID(c, core.Target{Host: iss}, "")
	is.NoErr(err)
	is.Equal(got, "dyn-device")

	save(t, c, entry(iss, "named-by-user", "c"))
	_, err = ResolveClientID(c, core.Target{Host: iss}, "")
	is.True(errors.Is(err, ErrAmbiguousClient))
}

func TestParseScopes_AcceptsSpacesAndCommas(t *testing.T) {
	for in, want := range map[string]string{
		"openid offline_access":        "openid|offline_access",
		"openid,offline_access":        "openid|offline_access",
		" openid , offline_access  x ": "openid|offline_access|x",
		"":                             "",
	} {
		t.Run(in, func(t *testing.T) {
			is := is.New(t)
			is.Equal(strings.Join(ParseScopes(in), "|"), want)
		})
	}
}

func TestDefaultScopes_DependOnTheHost(t *testing.T) {
	is := is.New(t)
	is.Equal(DefaultScopes(core.Target{Host: "https://idp.example"}), []string{"openid", "offline_access"})
	is.Equal(DefaultScopes(core.Target{Host: "https://x.cloud.databricks.com"}), []string{"all-apis", "offline_access"})
	is.Equal(DefaultScopes(core.Target{Host: "https://accounts.example", AccountID: "a1"}), []string{"all-apis", "offline_access"})
}
