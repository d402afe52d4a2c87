package core

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// LoginSummary is what [PickClient] needs to know of a stored login,
// without its tokens: what a browser mirrors to localStorage, what the
// native cache lists.
type LoginSummary struct {
	Host      string // the host typed at login
	AccountID string
	Issuer    string // the issuer of the login's metadata
	ClientID  string
	// ObtainedAt is when the login was made (or last refreshed).
	ObtainedAt time.Time
	// Resolved: the login went through target resolution, so Host says
	// what was typed, not only where the issuer is.
	Resolved bool
	// ClientRegistered: dualauth registered the client (RFC 7591); the
	// user never named it.
	ClientRegistered bool
}

// Summarize is the summary of a stored login entry.
func Summarize(e Entry) LoginSummary {
	return LoginSummary{Host: e.Host, AccountID: e.AccountID, Issuer: e.Metadata.Issuer, ClientID: e.ClientID, ObtainedAt: e.ObtainedAt,
		Resolved: e.Resolution != nil, ClientRegistered: e.registeredClient()}
}

// SummarizeLogins is the summaries of the logins among stored entries:
// what [PickClient] picks from when a driver reads its store itself (the
// native cache; the browser's IndexedDB when its localStorage mirror is
// gone). Registered clients are entries too, but not logins: left out.
func SummarizeLogins(entries []Entry) []LoginSummary {
	var out []LoginSummary
	for _, e := range entries {
		if e.Registration == nil {
			out = append(out, Summarize(e))
		}
	}
	return out
}

// ErrAmbiguousClient: the host has logins of several clients and none was
// named — a usage problem: the caller must name one.
var ErrAmbiguousClient = errors.New("ambiguous client")

// PickClient is the client of the login to use for t when the caller named
// none (given ""): the one given; for a Databricks host, databricks-cli;
// otherwise the only client logged in to t among logins (registrations
// left out), by issuer or by the host typed at login. When every such
// client is one dualauth registered (one per flow, or a new one after the
// server dropped the old), the user never named any, so the newest login
// is the one meant (U3). It returns "" when none is logged in, and an
// error matching [ErrAmbiguousClient] when several are.
func PickClient(t Target, given string, logins []LoginSummary) (string, error) {
	if given != "" {
		return given, nil
	}
	if databricksTarget(t, nil) {
		return DatabricksClientID, nil
	}
	issuers := map[string]bool{}
	for _, c := range Candidates(t) {
		issuers[strings.TrimSuffix(c.Issuer, "/")] = true
	}
	var ids []string
	var newest LoginSummary
	allRegistered := true
	for _, s := range logins {
		mine := issuers[strings.TrimSuffix(s.Issuer, "/")] || s.Resolved && s.Host == t.Host && s.AccountID == t.AccountID
		if !mine || s.ClientID == "" {
			continue
		}
		// Every login counts for "newest", also a client's second one
		// (reg-1 at t0, reg-2 at t2, reg-1 again at t5: reg-1 is newest).
		if s.ObtainedAt.After(newest.ObtainedAt) {
			newest = s
		}
		allRegistered = allRegistered && s.ClientRegistered
		if !slices.Contains(ids, s.ClientID) {
			ids = append(ids, s.ClientID)
		}
	}
	if len(ids) > 1 && allRegistered && newest.ClientID != "" {
		return newest.ClientID, nil
	}
	slices.Sort(ids)
	switch len(ids) {
	case 0:
		return "", nil
	case 1:
		return ids[0], nil
	}
	return "", fmt.Errorf("%w: several clients are logged in to %s (%s)", ErrAmbiguousClient, t.Host, strings.Join(ids, ", "))
}
