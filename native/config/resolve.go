package config

import (
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	"github.com/dualauth/dualauth/core"
)

// Inputs are what a command was given to find its host.
type Inputs struct {
	Arg     string // positional HOST or PROFILE
	Host    string // --host
	Profile string // --profile
	// ClientID, when given (--client-id), narrows the profiles a host
	// matches to those of that client.
	ClientID string
	// AccountID, when given (--account-id), narrows them to that account.
	AccountID string
	Getenv    func(string) string
}

// Resolved is the host a command works on, the profile that applies (if
// any), and where each came from, for `auth describe`.
type Resolved struct {
	Host        string
	HostFrom    string
	Profile     *Profile // nil when no profile applies
	ProfileName string   // set when a profile was named, even if it does not exist yet
	ProfileFrom string
	// Named: the command line named the profile (the HOST|PROFILE
	// argument or --profile), not the environment, the default profile
	// or a match of its host.
	Named bool
}

// ResolutionOrder documents the order for --help.
const ResolutionOrder = `The host is the first of: the HOST argument (or a profile of that name),
--host, --profile, $DUALAUTH_HOST, $DUALAUTH_PROFILE, the default profile.
A host that is a profile's host selects that profile (with --client-id or
--account-id, one of that client or account); of several, the default
profile, else, when they differ only in name, the first by name (describe
says which), else it is an error naming them: pass --profile NAME. A bare
word (no dot, scheme or port; localhost excepted) is a profile name, never
a host.`

// ErrNoHost: nothing named a host — no argument, flag, environment
// variable or default profile.
var ErrNoHost = errors.New("no host: pass HOST or --profile, or run `auth login HOST`")

// noHost is ErrNoHost, naming the profiles there are when there are
// some (none is the default).
func (f *File) noHost() error {
	var names []string
	for _, p := range f.Profiles() {
		names = append(names, p.Name)
	}
	if len(names) == 0 {
		return ErrNoHost
	}
	return fmt.Errorf("%w; no profile is the default among those of %s (%s): pass one, or choose the default with `auth profiles --default NAME`", ErrNoHost, f.sources(), strings.Join(names, ", "))
}

// EnvDatabricksConfigFile names the Databricks CLI config file, as for
// the Databricks CLI (default ~/.databrickscfg).
const EnvDatabricksConfigFile = "DATABRICKS_CONFIG_FILE"

// DefaultDatabricksPath is the Databricks CLI's own config file, found as
// the Databricks SDKs find it: $DATABRICKS_CONFIG_FILE (a leading ~/ is
// the home directory), else ~/.databrickscfg; "" without a home. The one
// place that finds it: the Databricks forms read it, and unknown-profile
// errors look into it, from the same environment (getenv).
func DefaultDatabricksPath(getenv func(string) string) string {
	p := getenv(EnvDatabricksConfigFile)
	if p == "" {
		p = "~/.databrickscfg"
	}
	rest, ok := strings.CutPrefix(p, "~/")
	if !ok {
		return p
	}
	home := HomeDir(getenv)
	if home == "" {
		return ""
	}
	return filepath.Join(home, rest)
}

// HomeDir is the user's home directory as os.UserHomeDir finds it, read
// through getenv ($HOME; %USERPROFILE% on Windows): "" when unset.
func HomeDir(getenv func(string) string) string {
	switch runtime.GOOS {
	case "windows":
		return getenv("USERPROFILE")
	case "plan9":
		return getenv("home")
	}
	return getenv("HOME")
}

// Skipped returns the sections of the Databricks CLI config file in use
// that are no profiles, and why.
func (f *File) Skipped() []Skipped { return f.skipped }

// UnknownProfile is the error for name, which names no profile (from
// says where the name came from, e.g. " (from DUALAUTH_PROFILE)"): the
// names nearest to it, a section of that name that the Databricks CLI
// config file in use skips and why, and, without --databricks-config, a
// profile of that name in the Databricks CLI's own config file; hints
// come first.
func (f *File) UnknownProfile(name, from string, getenv func(string) string, hints ...string) error {
	var names []string
	for _, p := range f.Selectable() {
		names = append(names, p.Name)
	}
	if near := core.NearestNames(name, names); len(near) > 0 {
		hints = append([]string{"did you mean " + strings.Join(near, " or ") + "?"}, hints...)
	}
	where := f.sources()
	if f.dbxFirst {
		where = f.DatabricksPath // the only file NAME is looked up in
	}
	for _, sk := range f.skipped {
		if sk.Name == name {
			hints = append(hints, fmt.Sprintf("[%s] of %s is skipped: %s", sk.Name, f.DatabricksPath, sk.Why))
		}
	}
	if f.DatabricksPath == "" {
		if path := DefaultDatabricksPath(getenv); path != "" {
			hints = append(hints, databricksHints(name, path)...)
		}
	}
	msg := fmt.Sprintf("no profile %q%s in %s", name, from, where)
	if len(hints) > 0 {
		msg += "; " + strings.Join(hints, "; ")
	}
	if f.dbxFirst {
		// The Databricks forms read NAME only from that file: a profile
		// of auth's own would not be it.
		return &NoProfileError{Name: name, msg: fmt.Sprintf("%s: add a section [%s] with its host and auth_type = databricks-cli to %s (auth reads that file, never writes it), then log in with --profile %s", msg, name, f.DatabricksPath, core.ShellWord(name))}
	}
	return &NoProfileError{Name: name, msg: fmt.Sprintf("%s: run `auth login --profile %s HOST` or `auth profiles`", msg, core.ShellWord(name))}
}

// NoProfileError is UnknownProfile's error: name names no profile.
type NoProfileError struct {
	Name string
	msg  string
}

func (e *NoProfileError) Error() string { return e.msg }

// databricksHints says what the Databricks CLI config file at path, not
// in use, has of name: a profile (then --databricks-config reads it), a
// section it would skip, or profiles of nearly that name.
func databricksHints(name, path string) []string {
	ps, skipped, err := ScanDatabricks(path)
	if err != nil {
		return nil // no such file, or not one auth could read: nothing to add
	}
	var names []string
	for _, p := range ps {
		if p.Name == name {
			return []string{fmt.Sprintf("%s has a Databricks CLI profile [%s]: add --databricks-config %s", path, name, path)}
		}
		names = append(names, p.Name)
	}
	for _, sk := range skipped {
		if sk.Name == name {
			return []string{fmt.Sprintf("%s has a section [%s], which auth skips even with --databricks-config: %s", path, name, sk.Why)}
		}
	}
	if near := core.NearestNames(name, names); len(near) > 0 {
		return []string{fmt.Sprintf("%s has Databricks CLI profiles %s: add --databricks-config %s", path, strings.Join(near, ", "), path)}
	}
	return nil
}

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
			return namedBy(f.fromProfile(p, "argument (profile in %s)", normalize))
		}
		if core.BareWord(in.Arg) {
			// A typo of a profile name, not a host: https://wrok would
			// only fail later, and suggest logging in there.
			if in.Profile != "" {
				return nil, fmt.Errorf("%q is not a host: a host has a dot, a scheme or a port (write https://%s for a name without)", in.Arg, in.Arg)
			}
			return nil, f.UnknownProfile(in.Arg, "", getenv, fmt.Sprintf("a HOST has a dot, a scheme or a port (write https://%s for a host of that name)", in.Arg))
		}
		rawHost, r.HostFrom = in.Arg, "argument"
	case in.Host != "":
		rawHost, r.HostFrom = in.Host, "flag --host"
	case in.Profile != "":
		p, ok := f.Profile(in.Profile)
		if !ok {
			return nil, f.UnknownProfile(in.Profile, "", getenv)
		}
		return namedBy(f.fromProfile(p, "flag --profile in %s", normalize))
	case getenv(EnvHost) != "":
		rawHost, r.HostFrom = getenv(EnvHost), "env "+EnvHost
	case getenv(EnvProfile) != "":
		p, ok := f.Profile(getenv(EnvProfile))
		if !ok {
			return nil, f.UnknownProfile(getenv(EnvProfile), " (from "+EnvProfile+")", getenv)
		}
		return f.fromProfile(p, "env "+EnvProfile+" in %s", normalize)
	case f.Default() != "":
		p, ok := f.Profile(f.Default())
		if !ok {
			return nil, fmt.Errorf("the default profile %q is missing from %s: fix default_profile in [settings] of %s, or choose one with `auth profiles --default NAME`", f.Default(), f.sources(), f.Path)
		}
		return f.fromProfile(p, "default profile in %s", normalize)
	default:
		return nil, f.noHost()
	}

	if core.NotAHost(rawHost) {
		return nil, fmt.Errorf("%q (%s) is not a host: give a host name such as idp.example.com, or an https URL", rawHost, r.HostFrom)
	}
	host, err := normalize(rawHost)
	if err != nil {
		return nil, err
	}
	r.Host = host
	if named != "" {
		r.ProfileName, r.ProfileFrom, r.Named = named, namedFrom, true
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
	if in.AccountID != "" {
		matches = slices.DeleteFunc(matches, func(p Profile) bool { return p.AccountID != in.AccountID })
	}
	p, how, err := f.pickMatch(host, matches)
	if err != nil {
		return nil, err
	}
	if p != nil {
		r.Profile, r.ProfileName, r.ProfileFrom = p, p.Name, f.from(*p, how)
	}
	return r, nil
}

// pickMatch chooses among the profiles whose host is host (those of the
// client and account given): the only one; else the default profile when
// it is one of them; else, when they are all alike (every setting but the
// name), the first by name, saying so; else none — an error naming them,
// as a guess could log in or send a token with settings the user did not
// choose. how says, with a %s for where it is defined, why it was chosen.
func (f *File) pickMatch(host string, matches []Profile) (p *Profile, how string, err error) {
	switch {
	case len(matches) == 0:
		return nil, "", nil
	case len(matches) == 1:
		return &matches[0], "profile for this host in %s", nil
	}
	var names []string
	for _, m := range matches {
		names = append(names, strings.ReplaceAll(m.Name, "%", "%%")) // how is a format
	}
	if i := slices.IndexFunc(matches, func(m Profile) bool { return m.Name == f.Default() }); i >= 0 {
		return &matches[i], "the default profile, of the profiles for this host (" + strings.Join(names, ", ") + "), in %s", nil
	}
	if !alike(matches) {
		return nil, "", fmt.Errorf("several profiles are for %s, with different settings (%s), and none is the default: pass --profile NAME, or the profile's name instead of the host (`auth describe NAME` shows each)", host, strings.ReplaceAll(strings.Join(names, ", "), "%%", "%"))
	}
	return &matches[0], "the first by name of the profiles for this host, which are alike (" + strings.Join(names, ", ") + "), in %s", nil
}

// alike: profiles that differ only in name (and where they are defined)
// give the same login with the same settings, so picking either is the same.
func alike(ps []Profile) bool {
	norm := func(p Profile) Profile {
		p.Name, p.Origin, p.Host = "", "", "" // the hosts are one, however written
		return p
	}
	for _, p := range ps[1:] {
		if norm(p) != norm(ps[0]) {
			return false
		}
	}
	return true
}

// namedBy marks a resolution as one the command line named.
func namedBy(r *Resolved, err error) (*Resolved, error) {
	if r != nil {
		r.Named = true
	}
	return r, err
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
