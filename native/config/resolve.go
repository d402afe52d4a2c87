package config

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Inputs are what a command was given to find its host.
type Inputs struct {
	Arg     string // positional HOST or PROFILE
	Host    string // --host
	Profile string // --profile
	// ClientID, when given (--client-id), narrows the profiles a host
	// matches to those of that client.
	ClientID string
	Getenv   func(string) string
}

// Resolved is the host a command works on, the profile that applies (if
// any), and where each came from, for `auth describe`.
type Resolved struct {
	Host        string
	HostFrom    string
	Profile     *Profile // nil when no profile applies
	ProfileName string   // set when a profile was named, even if it does not exist yet
	ProfileFrom string
}

// ResolutionOrder documents the order for --help.
const ResolutionOrder = `The host is the first of: the HOST argument (or a profile of that name),
--host, --profile, $DUALAUTH_HOST, $DUALAUTH_PROFILE, the default profile.
A host that several profiles name, with different clients, needs --profile.`

// ErrNoHost: nothing named a host — no argument, flag, environment
// variable or default profile.
var ErrNoHost = errors.New("no host: pass HOST or --profile, or run `auth login HOST`")

// Resolve finds the host. normalize canonicalises host input (it is
// core.NormalizeHost in the CLI). A profile named by --profile alongside a
// host is reported for `auth login --profile` to save; it must not
// contradict an existing profile's host.
func (f *File) Resolve(in Inputs, normalize func(string) (string, error)) (*Resolved, error) {
	getenv := in.Getenv
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	r := &Resolved{}
	// Only --profile goes with an explicit host (auth login --profile NAME
	// HOST saves it). $DUALAUTH_PROFILE is a default: a host named on the
	// command line or in $DUALAUTH_HOST wins over it.
	named, namedFrom := in.Profile, "flag --profile"

	var rawHost string
	switch {
	case in.Arg != "":
		if p, ok := f.Profile(in.Arg); ok && in.Profile == "" {
			return f.fromProfile(p, "argument (profile in %s)", normalize)
		}
		rawHost, r.HostFrom = in.Arg, "argument"
	case in.Host != "":
		rawHost, r.HostFrom = in.Host, "flag --host"
	case in.Profile != "":
		p, ok := f.Profile(in.Profile)
		if !ok {
			return nil, fmt.Errorf("no profile %q in %s: run `auth login --profile %s HOST` or `auth profiles`", in.Profile, f.sources(), in.Profile)
		}
		return f.fromProfile(p, "flag --profile in %s", normalize)
	case getenv(EnvHost) != "":
		rawHost, r.HostFrom = getenv(EnvHost), "env "+EnvHost
	case getenv(EnvProfile) != "":
		p, ok := f.Profile(getenv(EnvProfile))
		if !ok {
			return nil, fmt.Errorf("no profile %q (from %s) in %s", getenv(EnvProfile), EnvProfile, f.sources())
		}
		return f.fromProfile(p, "env "+EnvProfile+" in %s", normalize)
	case f.Default() != "":
		p, ok := f.Profile(f.Default())
		if !ok {
			return nil, fmt.Errorf("the default profile %q is missing from %s: fix default_profile in [settings] of %s", f.Default(), f.sources(), f.Path)
		}
		return f.fromProfile(p, "default profile in %s", normalize)
	default:
		return nil, ErrNoHost
	}

	host, err := normalize(rawHost)
	if err != nil {
		return nil, err
	}
	r.Host = host
	if named != "" {
		r.ProfileName, r.ProfileFrom = named, namedFrom
		if p, ok := f.Profile(named); ok {
			if ph, err := normalize(p.Host); err == nil && ph != host {
				return nil, fmt.Errorf("profile %q is for %s, not %s", named, ph, host)
			}
			r.Profile, r.ProfileFrom = &p, f.from(p, namedFrom+" in %s")
		}
		return r, nil
	}
	matches := f.MatchHost(host, normalize)
	if in.ClientID != "" {
		matches = slices.DeleteFunc(matches, func(p Profile) bool { return p.ClientID != in.ClientID })
	}
	switch {
	case len(matches) == 1:
		r.Profile, r.ProfileName, r.ProfileFrom = &matches[0], matches[0].Name, f.from(matches[0], "profile for this host in %s")
	case len(matches) > 1:
		if !sameLogin(matches) {
			var names []string
			for _, p := range matches {
				names = append(names, p.Name)
			}
			return nil, fmt.Errorf("several profiles are for %s (%s): pass --profile NAME", host, strings.Join(names, ", "))
		}
		r.Profile, r.ProfileName, r.ProfileFrom = &matches[0], matches[0].Name, f.from(matches[0], "profile for this host in %s")
	}
	return r, nil
}

// fromProfile resolves to profile p; from is how it was chosen, with a %s
// for where it is defined.
func (f *File) fromProfile(p Profile, from string, normalize func(string) (string, error)) (*Resolved, error) {
	if p.Host == "" {
		return nil, fmt.Errorf("profile %q in %s has no host: add a host line", p.Name, f.Where(p))
	}
	host, err := normalize(p.Host)
	if err != nil {
		return nil, fmt.Errorf("profile %q in %s: %w", p.Name, f.Where(p), err)
	}
	return &Resolved{Host: host, HostFrom: "profile " + p.Name, Profile: &p, ProfileName: p.Name, ProfileFrom: f.from(p, from)}, nil
}

// from fills the %s of how with where p is defined, and says when p
// hides a Databricks CLI profile of the same name.
func (f *File) from(p Profile, how string) string {
	where := f.Where(p)
	if h, ok := f.Hides(p.Name); ok && p.Origin == "" {
		where += "; it hides " + h.Origin
	}
	return fmt.Sprintf(how, where)
}

// sameLogin: profiles that share host, client and account share one login
// (the cache key is issuer + client), so picking either gives the same token.
func sameLogin(ps []Profile) bool {
	for _, p := range ps[1:] {
		if p.ClientID != ps[0].ClientID || p.AccountID != ps[0].AccountID {
			return false
		}
	}
	return true
}
