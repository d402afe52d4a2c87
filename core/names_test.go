package core

import (
	"testing"

	"github.com/matryer/is"
)

func TestBareWord_TellsAProfileNameFromAHost(t *testing.T) {
	is := is.New(t)
	for _, s := range []string{"wrok", "WORK", "prod-eu", "a_b", "DEFAULT"} {
		is.True(BareWord(s)) // only a profile name
	}
	for _, s := range []string{"idp.example.com", "https://sso", "localhost", "LOCALHOST", "127.0.0.1:8080", "sso:8443", "[::1]", "", "../../etc", "/tmp"} {
		is.True(!BareWord(s)) // may be a host
	}
}

func TestNotAHost_RefusesPathsAndDots(t *testing.T) {
	is := is.New(t)
	for _, s := range []string{"../../etc", "/etc/passwd", "./x", ".", "..", ".example.com", "example.com.", "/"} {
		is.True(NotAHost(s)) // no host can be this
	}
	for _, s := range []string{"idp.example.com", "idp.example.com/realms/x", "127.0.0.1:8080", "[::1]:8080", "https://../x", "localhost"} {
		is.True(!NotAHost(s))
	}
}

func TestNearestNames_CaseFirstThenSmallEdits(t *testing.T) {
	is := is.New(t)
	names := []string{"work", "Work2", "home", "staging", "prod", "WRK"}
	is.Equal(NearestNames("wrok", names), []string{"work", "WRK"})          // a swap, then a deletion
	is.Equal(NearestNames("WORK", names), []string{"work", "Work2", "WRK"}) // case alone first
	is.Equal(NearestNames("stagign", names), []string{"staging"})
	is.Equal(NearestNames("zzz", names), []string(nil))
	is.Equal(NearestNames("work", names), []string{"Work2", "WRK"}) // itself is no suggestion
	is.Equal(editDistance("ab", "ba"), 1)
	is.Equal(editDistance("", "abc"), 3)
	is.Equal(editDistance("é-ü", "e-u"), 2)
}
