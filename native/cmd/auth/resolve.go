package main

import (
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/dualauth/dualauth/core"
	"github.com/dualauth/dualauth/native"
	"github.com/dualauth/dualauth/native/config"
	"github.com/spf13/cobra"
)

// setting is one resolved value and where it came from, for describe.
type setting struct {
	Value  string `json:"value"`
	Source string `json:"source"`
}

// settings is what a command works with: the host and every setting of
// its login, each with its source (flag, env, profile, default…).
type settings struct {
	file        *config.File
	resolved    *config.Resolved
	Host        setting
	Profile     setting
	AccountID   setting
	ClientID    setting
	Scopes      setting
	RedirectURI setting
	CACert      setting
	Storage     setting
	Flow        setting
	DPoP        setting
	// Resource is an RFC 8707 resource given with the login (--resource):
	// the login asks for it and is kept under it.
	Resource setting
	// A login without a person (see grant.go).
	Grant            setting
	ClientKey        setting
	ClientAuth       setting
	SubjectToken     setting
	SubjectTokenType setting
	// secret is a client secret read from a Databricks CLI config file:
	// never a setting (describe shows where it is, not what).
	secret string
}

// target is where the login is kept: its host, or the resource it was
// given (see core.Resolution.LoginTarget).
func (s *settings) target() core.Target {
	t := s.hostTarget()
	if s.Resource.Value != "" {
		t.Host = s.Resource.Value
	}
	return t
}

// hostTarget is the host a login resolves (see resolveTarget).
func (s *settings) hostTarget() core.Target {
	return core.Target{Host: s.Host.Value, AccountID: s.AccountID.Value}
}

func (s *settings) databricks() bool {
	return s.AccountID.Value != "" || core.IsDatabricksHost(s.Host.Value)
}

// databricksLogin reports whether the login e is to a Databricks host: by
// the host's name (no entry needed), else by what the login found out at
// login time and saved (its resolution: host metadata or the /oidc
// document), which knows custom names and private-link hosts too.
func (s *settings) databricksLogin(e *core.Entry) bool {
	return s.databricks() || (e != nil && e.Resolution != nil && e.Resolution.Kind.Databricks())
}

// configFile loads the profiles file: --config, $DUALAUTH_CONFIG_FILE or
// the user config dir; and, with --databricks-config, the profiles of a
// Databricks CLI config file (read only; the profiles file wins on a name).
func (a *app) configFile() (*config.File, error) {
	path := a.configPath
	if path == "" {
		p, err := config.DefaultPath(a.getenv)
		if err != nil {
			return nil, err
		}
		path = p
	}
	f, err := config.Load(path)
	dbx := a.databricksPath
	// A profile named under the Databricks forms, by --profile or by a
	// NAME argument (see resolve), is a section of the Databricks CLI's
	// file, as the Databricks CLI reads them.
	named := a.profileFlag != "" || a.positional != ""
	if dbx == "" && a.databricksForm && (named || a.databricksList) {
		// The Databricks SDKs name a profile of their own config file;
		// `databricks auth profiles` lists that file's, as the Databricks
		// CLI does.
		dbx = a.databricksConfig()
		if dbx == "" {
			// No such file is an empty one, as for the SDKs: NAME is
			// then no profile, never one of auth's own file, and the
			// list is empty.
			if dbx = config.DefaultDatabricksPath(a.getenv); dbx == "" {
				// No home to find the file in (no flag named it): no
				// profile NAME, never auth's own; in the words the
				// older SDKs look for to try their next credential type.
				path := a.getenv(config.EnvDatabricksConfigFile)
				if path == "" {
					path = "~/.databrickscfg"
				}
				why := fmt.Sprintf("no home directory to find %s in ($HOME is not set): set $HOME, or $%s to a path without ~", path, config.EnvDatabricksConfigFile)
				if !named {
					return nil, errors.New(why) // the list
				}
				return nil, fmt.Errorf("%s: %s", notConfiguredText, why)
			}
		}
	}
	if err != nil || dbx == "" {
		return f, err
	}
	if dbx, err = a.expandHome(dbx); err != nil {
		return nil, err
	}
	use := f.UseDatabricks
	if a.databricksForm {
		// The Databricks tools read section NAME of that file and send
		// the token to its host: that section is the profile NAME here,
		// never a profile of auth's own file for another host.
		use = f.UseDatabricksFirst
	}
	if err := use(dbx); err != nil {
		if errors.Is(err, config.ErrNoDatabricksConfig) {
			fix := "drop --databricks-config"
			if env, ok := a.fromEnv["databricks-config"]; ok {
				fix = "unset " + env
			}
			return nil, usagef("Databricks CLI config file %v: give the path of an existing one (auth reads it, never creates it), or %s", err, fix)
		}
		return nil, err
	}
	return f, nil
}

// expandHome makes --databricks-config's path absolute, with a leading
// ~/ the home directory where no shell expanded it
// (--databricks-config=~/…, or a DUALAUTH_DATABRICKS_CONFIG set in a
// file), so that messages and describe name it wherever auth runs.
func (a *app) expandHome(path string) (string, error) {
	if rest, ok := strings.CutPrefix(path, "~/"); ok {
		home := config.HomeDir(a.getenv)
		if home == "" {
			return "", fmt.Errorf("%s %s: no home directory ($HOME is not set): give a path without ~", a.flagName("databricks-config"), path)
		}
		path = filepath.Join(home, rest)
	}
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	return path, nil
}

// flagSource says where a flag's value came from, "" when it was not set.
func (a *app) flagSource(cmd *cobra.Command, name string) string {
	f := cmd.Flags().Lookup(name)
	if f == nil || !f.Changed {
		return ""
	}
	if env, ok := a.fromEnv[name]; ok {
		return "env " + env
	}
	return "flag --" + name
}

// pick is the first set of: the flag, the profile's value, a default.
func (a *app) pick(cmd *cobra.Command, flag, profileValue, profileName, def, defSource string) setting {
	if src := a.flagSource(cmd, flag); src != "" {
		return setting{cmd.Flags().Lookup(flag).Value.String(), src}
	}
	if profileValue != "" {
		return setting{profileValue, "profile " + profileName}
	}
	if def != "" || defSource != "" {
		return setting{def, defSource}
	}
	return setting{}
}

// resolve finds the host and settings of a command, in the order the help
// documents (config.ResolutionOrder), and applies the profile's ca_cert and
// storage to the shared options.
func (a *app) resolve(cmd *cobra.Command, args []string) (*settings, error) {
	arg := ""
	if len(args) > 0 {
		arg = args[0]
	}
	// Under the Databricks forms a NAME argument is read as the Databricks
	// CLI reads it, profile first: a bare word (no host lacks a dot, a
	// scheme and a port) or a section of its config file is that section,
	// never a profile of auth's own file for another host; anything else
	// is a host, resolved as --host resolves it.
	a.positional = ""
	hostArg := false
	if a.databricksForm && a.profileFlag == "" && a.hostFlag == "" && arg != "" {
		if core.BareWord(arg) || a.databricksSection(arg) {
			a.positional = arg // see configFile
		} else {
			hostArg = true
		}
	}
	f, err := a.configFile()
	if err != nil {
		return nil, err
	}
	if fl := cmd.Flag("profile"); fl != nil && fl.Changed && strings.TrimSpace(a.profileFlag) == "" {
		return nil, usagef("--profile needs a name (`auth profiles` lists them); leave it out for the default profile")
	}
	in := config.Inputs{Arg: arg, Host: a.hostFlag, Profile: a.profileFlag, Getenv: a.getenv}
	if hostArg {
		in.Arg, in.Host = "", arg // never a profile of auth's own of that name
	}
	if fl := cmd.Flags().Lookup("client-id"); fl != nil && fl.Changed {
		in.ClientID = fl.Value.String()
	}
	if fl := cmd.Flags().Lookup("account-id"); fl != nil && fl.Changed {
		in.AccountID = fl.Value.String()
	}
	r, err := f.Resolve(in, core.NormalizeHost)
	if err != nil {
		return nil, usageError{err}
	}
	if hostArg && r.HostFrom == "flag --host" {
		r.HostFrom = "argument"
	}
	if a.databricksForm && a.profileFlag != "" && r.Profile == nil {
		// --profile NAME with a host, NAME no section of the Databricks
		// CLI's config file: auth never writes that file, and a profile
		// NAME of its own would not be what the Databricks tools read
		// (nor may it replace one of auth's own, for another host).
		np := f.UnknownProfile(a.profileFlag, "", a.getenv)
		if cmd.Name() == "login" {
			return nil, usagef("%v; or log in to %s without --profile (the Databricks forms read profiles only from %s, so a profile saved by auth would not be one of them)", np, r.Host, f.DatabricksPath)
		}
		return nil, np
	}
	s := &settings{file: f, resolved: r, Host: setting{r.Host, r.HostFrom}}
	var p config.Profile
	if r.Profile != nil {
		p = *r.Profile
	}
	if r.ProfileName != "" {
		// A profile dualauth may save must have a valid name; a Databricks
		// CLI profile ([DEFAULT], any section name) is only read.
		if p.Origin == "" {
			if err := config.ValidName(r.ProfileName); err != nil {
				return nil, usageError{err} // before a login, not after it
			}
		}
		s.Profile = setting{r.ProfileName, r.ProfileFrom}
	}
	s.AccountID = a.pick(cmd, "account-id", p.AccountID, p.Name, "", "")
	s.Scopes = a.pick(cmd, "scopes", p.Scopes, p.Name, "", "")
	s.Scopes.Value = strings.Join(native.ParseScopes(s.Scopes.Value), " ")
	s.RedirectURI = a.pick(cmd, "redirect-uri", p.RedirectURI, p.Name, "", "")
	s.CACert = a.pick(cmd, "ca-cert", p.CACert, p.Name, "", "")
	if s.Resource = a.pick(cmd, "resource", p.Resource, p.Name, "", ""); s.Resource.Value != "" {
		// Normalised as the core keeps it, so that every command finds
		// the login without asking the network.
		if s.Resource.Value, err = core.NormalizeHost(s.Resource.Value); err != nil {
			return nil, usagef("%s: %v", given(s.Resource.Source), err)
		}
	}
	s.Storage = a.pick(cmd, "storage", p.Storage, p.Name, string(native.StorageAuto), "default")
	a.caCert, a.storage, a.storageFrom = s.CACert.Value, s.Storage.Value, s.Storage.Source
	s.DPoP = a.pick(cmd, "dpop", p.DPoP, p.Name, core.DPoPAuto, "default")
	if s.DPoP.Value, err = core.ParseDPoPMode(s.DPoP.Value); err != nil {
		return nil, usagef("%s: %v", given(s.DPoP.Source), err)
	}
	a.dpop = s.DPoP.Value
	// A saved flow is checked when it applies, on every command (like
	// storage); --flow or --device (checked with the other flow flags in
	// login) replaces it.
	s.Flow = a.pick(cmd, "flow", p.Flow, p.Name, flowAuto, "default")
	if dev := cmd.Flags().Lookup("device"); dev != nil && dev.Value.String() == "true" && a.flagSource(cmd, "flow") == "" {
		s.Flow = setting{flowDevice, a.flagSource(cmd, "device")} // --device is --flow device
	}
	if s.Flow.Source == "profile "+p.Name && !validFlow(s.Flow.Value) {
		return nil, usagef("profile %s in %s has flow = %q: the flow must be browser, device or auto; fix or remove that line, or save one with `auth login %s --flow FLOW`", p.Name, f.Where(p), p.Flow, core.ShellWord(p.Name))
	}
	s.resolveGrant(a, cmd, p)
	s.ClientID = a.pick(cmd, "client-id", p.ClientID, p.Name, "", "")
	if p.Origin != "" && s.ClientID.Source == "profile "+p.Name {
		s.ClientID.Source += " (the Databricks CLI's client)"
	}
	if s.ClientID.Value == "" && s.databricks() {
		s.ClientID = setting{native.DatabricksClientID, "default for Databricks hosts"}
	}
	if s.Scopes.Value == "" && s.withoutPerson() {
		s.Scopes = setting{strings.Join(core.DefaultGrantScopes(s.target()), " "), scopesWithoutPerson}
	}
	if s.Scopes.Value == "" && !s.withoutPerson() {
		s.Scopes = setting{strings.Join(native.DefaultScopes(s.target()), " "), "default"}
	}
	if s.RedirectURI.Value == "" && s.databricks() && a.flagSource(cmd, "port") == "" {
		s.RedirectURI = setting{native.DatabricksRedirectURI, "default for Databricks hosts"}
	}
	return s, nil
}

// sharers are the other profiles whose login is the one of this host and
// client (the profile's own, or the given one when it named none): same
// host, client, account and resource, as the cache keys a login by issuer
// (a resource login by its resource) and client.
func (s *settings) sharers(client string) []string {
	var out []string
	for _, p := range s.file.MatchHost(s.Host.Value, core.NormalizeHost) {
		if p.Name == s.Profile.Value || p.AccountID != s.AccountID.Value || (p.ClientID != client && p.ClientID != "") {
			continue
		}
		if res, err := core.NormalizeHost(p.Resource); p.Resource != "" && (err != nil || res != s.Resource.Value) || p.Resource == "" && s.Resource.Value != "" {
			continue // another login: kept under another resource, or the host
		}
		out = append(out, p.Name)
	}
	return out
}

// loginName is the command that logs in again the way the user named
// this login: by its profile ("auth login short"; see profileLogin); ""
// when no profile applies (the host and client then say it).
func (s *settings) loginName() string {
	p := s.resolved.Profile
	if p == nil {
		return ""
	}
	return profileLogin(*p, s.file)
}

// profileLogin is the command that logs in again to profile p of f: for a
// section of a Databricks CLI config file, `auth login NAME
// --databricks-config PATH`, unless a profile of auth's own file has that
// name, which would win there; then the Databricks form, which reads that
// file first.
func profileLogin(p config.Profile, f *config.File) string {
	cmd := "auth login " + core.ShellWord(p.Name)
	if p.Origin == "" {
		return cmd
	}
	if f.HasOwn(p.Name) {
		cmd = "auth auth login --profile " + core.ShellWord(p.Name)
	}
	return cmd + " --databricks-config " + core.ShellWord(f.DatabricksPath)
}

// nameLogin makes a "log in (again)" error name the login by loginName.
func (s *settings) nameLogin(err error) {
	var lr *core.LoginRequiredError
	if s != nil && errors.As(err, &lr) && lr.Login == "" {
		lr.Login = s.loginName()
	}
}

// resolveOptions resolves the command's settings and opens the flow
// options (store, HTTP, lock) they call for.
func (a *app) resolveOptions(cmd *cobra.Command, args []string) (*settings, native.Options, error) {
	rs, err := a.resolve(cmd, args)
	if err != nil {
		return nil, native.Options{}, err
	}
	o, err := a.options(rs.target(), rs.ClientID.Value)
	if err == nil && hasPath(rs.Host.Value) {
		// A URL inside a resource login's resource is that login.
		if h := native.LoginForURL(o.Store, rs.Host.Value); h != "" && h != rs.Host.Value {
			rs.Host = setting{h, fmt.Sprintf("the login whose resource contains %s (%s)", rs.Host.Value, rs.Host.Source)}
			o.Target = rs.target()
		}
	}
	o.ClientSecret = rs.secret
	return rs, o, err
}

// hasPath reports whether a host URL names a path below its origin, which
// may be inside a resource login's resource.
func hasPath(host string) bool {
	u, err := url.Parse(host)
	return err == nil && strings.Trim(u.Path, "/") != ""
}

// cachedClient fills in the client ID from the cache when nothing named
// one: the only client logged in to the host.
func (s *settings) cachedClient(store native.Store) error {
	if s.ClientID.Value != "" {
		return nil
	}
	id, err := native.ResolveClientID(store, s.target(), "")
	if err != nil {
		return usageError{err}
	}
	if id != "" {
		s.ClientID = setting{id, "cache: the only client logged in to this host"}
	}
	return nil
}

// saveProfile records the settings of a successful login under the
// profile name given with --profile (the first profile becomes the default).
// A profile of a Databricks CLI config file is never saved: that file is
// only read, and a copy in the profiles file would hide it from then on.
func (a *app) saveProfile(s *settings) error {
	name := s.Profile.Value
	if name == "" {
		return nil
	}
	fromFlag := func(st setting) bool { return strings.HasPrefix(st.Source, "flag ") }
	if rp := s.resolved.Profile; rp != nil && rp.Origin != "" {
		var given []string
		for _, st := range []setting{s.ClientID, s.AccountID, s.Scopes, s.RedirectURI, s.CACert, s.Storage, s.Flow, s.DPoP, s.Resource, s.ClientKey, s.ClientAuth, s.SubjectToken, s.SubjectTokenType} {
			if fromFlag(st) {
				given = append(given, strings.TrimPrefix(st.Source, "flag "))
			}
		}
		if len(given) > 0 {
			fmt.Fprintf(a.stderr, "Not saved: profile %s is read from %s, which auth never writes; %s applied to this login only\n", name, rp.Origin, strings.Join(given, ", "))
		}
		return nil
	}
	p, existed := s.file.Profile(name)
	// The login's identity always — the resource too: the login is kept
	// under it, so a profile without it (DUALAUTH_RESOURCE) would name no
	// login —; other settings only when given as flags: values from the
	// environment or defaults stay out of the file.
	p.Name, p.Host, p.ClientID, p.AccountID, p.Resource = name, s.Host.Value, s.ClientID.Value, s.AccountID.Value, s.Resource.Value
	if fromFlag(s.Scopes) {
		p.Scopes = s.Scopes.Value
	}
	if fromFlag(s.RedirectURI) {
		p.RedirectURI = s.RedirectURI.Value
	}
	if fromFlag(s.CACert) {
		abs, err := filepath.Abs(s.CACert.Value) // the profile works from any directory
		if err != nil {
			return err
		}
		p.CACert = abs
	}
	if fromFlag(s.Storage) {
		p.Storage = s.Storage.Value
	}
	if fromFlag(s.Flow) {
		p.Flow = s.Flow.Value
	}
	if fromFlag(s.DPoP) {
		p.DPoP = s.DPoP.Value
	}
	s.saveGrant(&p, fromFlag)
	if err := s.file.Put(p); err != nil {
		return usageError{err}
	}
	if err := s.file.Save(); err != nil {
		return err
	}
	verb := "Saved"
	if existed {
		verb = "Updated" // e.g. `auth login HOST` matched profile NAME by its host
	}
	fmt.Fprintf(a.stderr, "%s profile %s in %s\n", verb, name, s.file.Path)
	return nil
}
