package native

import (
	"strings"
	"testing"

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
