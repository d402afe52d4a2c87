// Package config reads and writes dualauth's profiles: an INI file of named
// settings (host, client, scopes…) so that `auth token work` needs no flags.
// It also resolves which host and settings a command uses, and says where
// each setting came from. Tokens never live here; they live in the cache.
package config

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"gopkg.in/ini.v1"
)

// Environment variables.
const (
	EnvConfigFile = "DUALAUTH_CONFIG_FILE"
	EnvHost       = "DUALAUTH_HOST"
	EnvProfile    = "DUALAUTH_PROFILE"
)

// SettingsSection holds file-wide settings; it is not a profile.
const SettingsSection = "settings"

// Profile keys in the INI file.
const (
	KeyHost        = "host"
	KeyClientID    = "client_id"
	KeyScopes      = "scopes"
	KeyRedirectURI = "redirect_uri"
	KeyAccountID   = "account_id"
	KeyCACert      = "ca_cert"
	KeyStorage     = "storage"
	KeyFlow        = "flow"
	KeyDPoP        = "dpop" // auto, always or never (RFC 9449 bound tokens)
	KeyResource    = "resource"
	KeyDefault     = "default_profile"
	// Logins without a person (never a secret: the client secret goes to
	// the keyring or a 0600 file, a key file is referenced by its path).
	KeyGrant            = "grant" // client_credentials or token_exchange
	KeyClientKey        = "client_key"
	KeyClientAuth       = "client_auth"
	KeySubjectToken     = "subject_token"
	KeySubjectTokenType = "subject_token_type"
)

// Grants of a profile (the grant key).
const (
	GrantClientCredentials = "client_credentials"
	GrantTokenExchange     = "token_exchange"
)

// Profile is one named set of settings.
type Profile struct {
	Name        string `json:"name"`
	Host        string `json:"host"`
	ClientID    string `json:"client_id,omitempty"`
	Scopes      string `json:"scopes,omitempty"`
	RedirectURI string `json:"redirect_uri,omitempty"`
	AccountID   string `json:"account_id,omitempty"`
	CACert      string `json:"ca_cert,omitempty"`
	Storage     string `json:"storage,omitempty"`
	Flow        string `json:"flow,omitempty"`
	DPoP        string `json:"dpop,omitempty"`
	Resource    string `json:"resource,omitempty"`
	// Grant, ClientKey, ClientAuth, SubjectToken and SubjectTokenType
	// describe a login without a person.
	Grant            string `json:"grant,omitempty"`
	ClientKey        string `json:"client_key,omitempty"`
	ClientAuth       string `json:"client_auth,omitempty"`
	SubjectToken     string `json:"subject_token,omitempty"`
	SubjectTokenType string `json:"subject_token_type,omitempty"`
	// ClientSecret is only ever read from a Databricks CLI config file
	// (auth_type = oauth-m2m), kept in memory, never written or shown.
	ClientSecret string `json:"-"`
	// Origin is "" for a profile of the profiles file itself, and
	// "PATH [SECTION]" for one read from a Databricks CLI config file
	// (see UseDatabricks), which dualauth never writes.
	Origin string `json:"-"`
}

func (p *Profile) fields() []struct{ key, val string } {
	return []struct{ key, val string }{
		{KeyHost, p.Host}, {KeyClientID, p.ClientID}, {KeyScopes, p.Scopes}, {KeyRedirectURI, p.RedirectURI},
		{KeyAccountID, p.AccountID}, {KeyCACert, p.CACert}, {KeyStorage, p.Storage}, {KeyFlow, p.Flow},
		{KeyGrant, p.Grant}, {KeyClientKey, p.ClientKey}, {KeyClientAuth, p.ClientAuth},
		{KeySubjectToken, p.SubjectToken}, {KeySubjectTokenType, p.SubjectTokenType}, {KeyDPoP, p.DPoP}, {KeyResource, p.Resource},
	}
}

// File is a loaded config file. Rewrites keep its comments and any keys
// this version does not know.
type File struct {
	Path string
	ini  *ini.File
	// DatabricksPath is the Databricks CLI config file in use ("" for
	// none); dbx are its profiles that no profile of this file hides,
	// hidden those that one does (same name: this file wins).
	DatabricksPath string
	dbx, hidden    []Profile
	// skipped are the sections of that file that are no profiles.
	skipped []Skipped
	// all are that file's profiles, hidden or not; dbxFirst: that file
	// wins on a name instead (see UseDatabricksFirst).
	all      []Profile
	dbxFirst bool
}

// DefaultPath is $DUALAUTH_CONFIG_FILE, else <user config dir>/dualauth/config.ini.
func DefaultPath(getenv func(string) string) (string, error) {
	if p := getenv(EnvConfigFile); p != "" {
		return p, nil
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("no config directory (%v): set %s", err, EnvConfigFile)
	}
	return filepath.Join(dir, "dualauth", "config.ini"), nil
}

// validName: a letter or digit, then letters, digits, '.', '_' or '-'.
// (No regexp: compiling one at init would cost every `auth token` call.)
func validName(name string) bool {
	for i, r := range name {
		alnum := r < 128 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
		if !alnum && (i == 0 || !strings.ContainsRune("._-", r)) {
			return false
		}
	}
	return name != ""
}

// ValidName reports whether name can be a profile name, and if not, why.
func ValidName(name string) error {
	why := ""
	switch {
	case strings.EqualFold(name, SettingsSection):
		why = "[settings] holds the file's own settings (default_profile)"
	case strings.EqualFold(name, ini.DefaultSection):
		why = "[DEFAULT] is the INI section of the keys before any section, whose keys other sections may inherit; a Databricks CLI config file's [DEFAULT] is read with --databricks-config"
	case validName(name):
		return nil
	case name == "":
		why = "a profile needs a name"
	default:
		for i, r := range name {
			switch {
			case r >= 128:
				why = fmt.Sprintf("%q is not ASCII: names are typed in shells and scripts and matched byte for byte, where é and its decomposed form are two names", r)
			case i == 0 && r == '-':
				why = "it begins with '-', so on a command line it would read as a flag"
			case i == 0 && strings.ContainsRune("._", r):
				why = fmt.Sprintf("it begins with %q, which may only follow a letter or digit (hidden-file and reserved-looking names are kept out)", r)
			case !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._-", r)):
				why = fmt.Sprintf("%q is neither a letter, a digit, '.', '_' nor '-'", r)
			}
			if why != "" {
				break
			}
		}
	}
	return fmt.Errorf("invalid profile name %q: %s; use ASCII letters, digits, '.', '_' or '-', beginning with a letter or digit", name, why)
}

// MaxFileSize caps a profiles file: thousands of profiles fit in 1 MiB, and
// the INI parser needs about 75 times a file's size in memory, so a huge
// file (the wrong path, a log) must be refused before it is parsed.
const MaxFileSize = 1 << 20

// readCapped reads a profiles file of at most [MaxFileSize] bytes.
func readCapped(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	raw, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(raw) > MaxFileSize {
		return nil, fmt.Errorf("%s is over 1 MiB, too large for a profiles file: is it the right file?", path)
	}
	return raw, nil
}

// Load reads the file at path. A missing file is an empty config; a
// malformed one is an error that names the file and the line.
func Load(path string) (*File, error) {
	raw, err := readCapped(path)
	if errors.Is(err, fs.ErrNotExist) {
		raw, err = nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	if len(raw) == 0 {
		return &File{Path: path}, nil // no INI document until a write (see doc)
	}
	f, err := ini.LoadSources(ini.LoadOptions{}, raw)
	if err != nil {
		return nil, parseError(path, raw, err)
	}
	for _, s := range f.Sections() {
		if s.Name() == ini.DefaultSection || s.Name() == SettingsSection {
			continue
		}
		if err := ValidName(s.Name()); err != nil {
			return nil, fmt.Errorf("%s%s: %v", path, lineOf(raw, errors.New(": ["+s.Name()+"]")), err)
		}
	}
	return &File{Path: path, ini: f}, nil
}

// parseError is an INI parse error as "path:line: kind": never the text
// of the line, which the library quotes and which may hold a secret (a
// client_secret without its "=").
func parseError(path string, raw []byte, err error) error {
	msg := err.Error()
	kind, _, _ := strings.Cut(msg, ":")
	kind, _, _ = strings.Cut(kind, "\"")
	kind = strings.TrimSuffix(strings.TrimSpace(kind), " from")
	if kind == "" || kind == msg && len(msg) > 60 {
		kind = "not an INI file"
	}
	return fmt.Errorf("%s%s: %s", path, lineOf(raw, err), kind)
}

// lineOf finds the line an ini error talks about: the library quotes the
// offending text but not its line number.
func lineOf(raw []byte, err error) string {
	msg := err.Error()
	i := strings.LastIndex(msg, ": ")
	if i < 0 {
		return ""
	}
	needle := strings.TrimSpace(msg[i+2:])
	for n, line := range strings.Split(string(raw), "\n") {
		if needle != "" && strings.Contains(line, needle) {
			return fmt.Sprintf(":%d", n+1)
		}
	}
	return ""
}

// doc is the INI document, made on the first write when there was no
// file: reading no file (the common case of `auth token HOST`) builds none.
func (f *File) doc() *ini.File {
	if f.ini == nil {
		f.ini = ini.Empty()
	}
	return f.ini
}

// sections are the document's sections (none without a document).
func (f *File) sections() []*ini.Section {
	if f.ini == nil {
		return nil
	}
	return f.ini.Sections()
}

// Profiles returns every profile, in file order: those of this file, then
// those of the Databricks CLI config file in use.
func (f *File) Profiles() []Profile {
	var out []Profile
	for _, s := range f.sections() {
		if s.Name() == ini.DefaultSection || s.Name() == SettingsSection || f.shadowed(s.Name()) {
			continue
		}
		out = append(out, profileFrom(s))
	}
	return append(out, f.dbx...)
}

func profileFrom(s *ini.Section) Profile {
	// The section's own keys only: Key() would give [prod.eu] the keys of
	// [prod] it lacks (ini.v1's parent sections), mixing two logins.
	own := s.KeysHash()
	get := func(k string) string { return strings.TrimSpace(own[k]) }
	return Profile{
		Name: s.Name(), Host: get(KeyHost), ClientID: get(KeyClientID), Scopes: get(KeyScopes),
		RedirectURI: get(KeyRedirectURI), AccountID: get(KeyAccountID), CACert: get(KeyCACert), Storage: get(KeyStorage),
		Flow: get(KeyFlow), Grant: get(KeyGrant), ClientKey: get(KeyClientKey), ClientAuth: get(KeyClientAuth),
		SubjectToken: get(KeySubjectToken), SubjectTokenType: get(KeySubjectTokenType), DPoP: get(KeyDPoP), Resource: get(KeyResource),
	}
}

// Selectable are the profiles a name can select (see Profile): every
// profile, or with UseDatabricksFirst those of the Databricks CLI config
// file only.
func (f *File) Selectable() []Profile {
	if f.dbxFirst {
		return f.dbx
	}
	return f.Profiles()
}

// Profile returns the named profile: this file's, else the Databricks CLI
// config file's; with UseDatabricksFirst, that file's only (a section of
// that file that is no profile, or none, names none: never a profile of
// this file, for another host, whose token the caller would send there).
func (f *File) Profile(name string) (Profile, bool) {
	if f.dbxFirst {
		for _, p := range f.dbx {
			if p.Name == name {
				return p, true
			}
		}
		return Profile{}, false
	}
	if p, ok := f.own(name); ok {
		return p, true
	}
	for _, p := range f.dbx {
		if p.Name == name {
			return p, true
		}
	}
	return Profile{}, false
}

// shadowed reports whether a profile of this file named name gives way to
// the section of that name of the Databricks CLI config file in use (see
// UseDatabricksFirst).
func (f *File) shadowed(name string) bool {
	if !f.dbxFirst {
		return false
	}
	return slices.ContainsFunc(f.all, func(p Profile) bool { return p.Name == name }) ||
		slices.ContainsFunc(f.skipped, func(s Skipped) bool { return s.Name == name })
}

// HasOwn reports whether this file (not a Databricks CLI config file) has
// a profile called name.
func (f *File) HasOwn(name string) bool {
	_, ok := f.own(name)
	return ok
}

// own returns the named profile of this file only.
func (f *File) own(name string) (Profile, bool) {
	if name == SettingsSection || name == ini.DefaultSection {
		return Profile{}, false
	}
	if f.ini == nil {
		return Profile{}, false
	}
	s, err := f.ini.GetSection(name)
	if err != nil {
		return Profile{}, false
	}
	return profileFrom(s), true
}

// Where says where a profile is defined: this file's path, or the
// Databricks CLI config file and section.
func (f *File) Where(p Profile) string {
	if p.Origin != "" {
		return p.Origin
	}
	return f.Path
}

// Hides returns the Databricks CLI profile that the profile name of this
// file hides, if any.
func (f *File) Hides(name string) (Profile, bool) {
	for _, p := range f.hidden {
		if p.Name == name {
			return p, true
		}
	}
	return Profile{}, false
}

// sources names the files profiles come from, for messages.
func (f *File) sources() string {
	if f.DatabricksPath == "" {
		return f.Path
	}
	return f.Path + " or " + f.DatabricksPath
}

// Default is the default profile's name ("" for none).
func (f *File) Default() string {
	if f.ini == nil {
		return ""
	}
	s, err := f.ini.GetSection(SettingsSection)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(s.Key(KeyDefault).String())
}

// SetDefault makes name the default profile.
func (f *File) SetDefault(name string) {
	f.doc().Section(SettingsSection).Key(KeyDefault).SetValue(name)
}

// Put creates or updates a profile. Empty fields remove their keys; keys
// this version does not know are kept. The first profile becomes the
// default.
func (f *File) Put(p Profile) error {
	if p.Origin != "" {
		return fmt.Errorf("profile %q is read from %s, which dualauth never writes", p.Name, p.Origin)
	}
	if err := ValidName(p.Name); err != nil {
		return err
	}
	if f.shadowed(p.Name) {
		return fmt.Errorf("profile %q is a section of %s, which the Databricks CLI's commands read first and dualauth never writes: choose another name", p.Name, f.DatabricksPath)
	}
	s := f.doc().Section(p.Name)
	for _, kv := range p.fields() {
		if kv.val == "" {
			s.DeleteKey(kv.key)
		} else {
			s.Key(kv.key).SetValue(kv.val)
		}
	}
	if f.Default() == "" {
		f.SetDefault(p.Name)
	}
	f.hide()
	return nil
}

// Delete removes a profile of this file, and the default setting when it
// named it. Profiles of a Databricks CLI config file are never deleted.
func (f *File) Delete(name string) bool {
	if _, ok := f.own(name); !ok {
		return false
	}
	f.doc().DeleteSection(name)
	if f.Default() == name {
		f.doc().Section(SettingsSection).DeleteKey(KeyDefault)
	}
	return true
}

// Save writes the file atomically (temp file, fsync, rename) with mode
// 0600, in a 0700 directory when it has to create one.
func (f *File) Save() error {
	dir := filepath.Dir(f.Path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("saving config: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".config-*.ini")
	if err != nil {
		return fmt.Errorf("saving config: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("saving config: %w", err)
	}
	if _, err := f.doc().WriteTo(tmp); err != nil {
		tmp.Close()
		return fmt.Errorf("saving config: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("saving config: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("saving config: %w", err)
	}
	if err := os.Rename(tmp.Name(), f.Path); err != nil {
		return fmt.Errorf("saving config: %w", err)
	}
	return nil
}

// MatchHost returns the profiles whose host is host (both normalized by
// the caller's normalize function), sorted by name.
func (f *File) MatchHost(host string, normalize func(string) (string, error)) []Profile {
	var out []Profile
	for _, p := range f.Profiles() {
		h, err := normalize(p.Host)
		if err == nil && h == host {
			out = append(out, p)
		}
	}
	slices.SortFunc(out, func(a, b Profile) int { return strings.Compare(a.Name, b.Name) })
	return out
}
