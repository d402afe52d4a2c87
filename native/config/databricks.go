package config

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"gopkg.in/ini.v1"
)

// Databricks CLI config files (~/.databrickscfg): INI sections of host,
// account_id, auth_type and more. dualauth only reads them.
const (
	// DatabricksAuthType is the auth_type of the sections that become
	// profiles: those the Databricks CLI logs in to with OAuth (U2M).
	DatabricksAuthType = "databricks-cli"
	// DatabricksClientID is the client those logins use; the same as
	// native.DatabricksClientID (a test checks it).
	DatabricksClientID = "databricks-cli"
	keyAuthType        = "auth_type"
)

// ErrNoDatabricksConfig: the Databricks CLI config file named does not exist.
var ErrNoDatabricksConfig = errors.New("no such file")

// ReadDatabricks reads the Databricks CLI config file at path and returns
// the profiles of its sections with auth_type = databricks-cli, in file
// order: name = section name (DEFAULT included), host, account ID, client
// databricks-cli; and those with auth_type oauth-m2m, github-oidc,
// env-oidc or file-oidc, with their client and grant (see withoutPerson).
// Other sections and keys are ignored. A missing file is
// ErrNoDatabricksConfig; a malformed one an error naming file and line.
func ReadDatabricks(path string) ([]Profile, error) {
	ps, _, err := ScanDatabricks(path)
	return ps, err
}

// Skipped is a section of a Databricks CLI config file that is no
// profile for auth, and why.
type Skipped struct {
	Name, Why string
}

// skipReason says why a section whose auth type auth does not log in with
// is skipped ("" for a section without keys: ini.v1's empty DEFAULT).
func skipReason(keys map[string]string) string {
	if len(keys) == 0 {
		return ""
	}
	oauth := "auth logs in with OAuth only: set auth_type = " + DatabricksAuthType + " there for a login in the browser"
	at := strings.TrimSpace(keys[keyAuthType])
	switch {
	case at == "" && strings.TrimSpace(keys["token"]) != "":
		return "it holds a personal access token (token) and no auth_type; " + oauth
	case at == "":
		return "it has no auth_type; " + oauth
	case at == "pat":
		return "auth_type = pat (a personal access token); " + oauth
	}
	return fmt.Sprintf("auth_type = %s is not one auth logs in with (%s, %s, %s, %s or %s)", at, DatabricksAuthType, AuthTypeM2M, AuthTypeGitHubOIDC, AuthTypeEnvOIDC, AuthTypeFileOIDC)
}

// ScanDatabricks is ReadDatabricks that also returns the sections it
// skips, with the reason, so that a name of one is never just "no profile".
func ScanDatabricks(path string) ([]Profile, []Skipped, error) {
	raw, err := readCapped(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, fmt.Errorf("%s: %w", path, ErrNoDatabricksConfig)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("reading the Databricks config: %w", err)
	}
	f, err := ini.LoadSources(ini.LoadOptions{}, raw)
	if err != nil {
		return nil, nil, parseError(path, raw, err)
	}
	var out []Profile
	var skipped []Skipped
	// ini.v1 always has a DEFAULT section (the keys before any header go
	// there, and an explicit [DEFAULT] merges into it). For the Databricks
	// CLI it is a profile like any other, so it is not skipped here.
	for _, s := range f.Sections() {
		// KeysHash: the section's own keys. Key() would also look in the
		// "parent" of a section whose name has a dot ([a.b] in [a]).
		keys := s.KeysHash()
		get := func(k string) string { return strings.TrimSpace(keys[k]) }
		p := Profile{
			Name:      s.Name(),
			Host:      get(KeyHost),
			AccountID: get(KeyAccountID),
			ClientID:  DatabricksClientID,
			Origin:    path + " [" + s.Name() + "]",
		}
		if !withoutPerson(&p, get(keyAuthType), get) && get(keyAuthType) != DatabricksAuthType {
			if why := skipReason(keys); why != "" {
				skipped = append(skipped, Skipped{Name: s.Name(), Why: why})
			}
			continue
		}
		out = append(out, p)
	}
	return out, skipped, nil
}

// The auth types of the Databricks CLI and SDK for logins without a
// person: a service principal's secret (OAuth M2M), and workload identity
// federation, which exchanges a CI job's or workload's own token.
const (
	AuthTypeM2M        = "oauth-m2m"
	AuthTypeGitHubOIDC = "github-oidc"
	AuthTypeEnvOIDC    = "env-oidc"
	AuthTypeFileOIDC   = "file-oidc"
)

// withoutPerson fills p from a section of one of those auth types, as the
// Databricks SDK reads them (client_id, client_secret, token_audience,
// oidc_token_env — default DATABRICKS_OIDC_TOKEN —, oidc_token_filepath);
// false for any other auth type. The secret stays in memory: it is sent,
// never copied anywhere.
func withoutPerson(p *Profile, authType string, get func(string) string) bool {
	switch authType {
	case AuthTypeM2M:
		p.Grant, p.ClientSecret = GrantClientCredentials, get("client_secret")
	case AuthTypeGitHubOIDC:
		// Without token_audience the core asks, at the grant, for the
		// audience the Databricks SDKs use (account ID or token endpoint).
		p.Grant, p.SubjectToken = GrantTokenExchange, "github-actions"
		if aud := get("token_audience"); aud != "" {
			p.SubjectToken += ":" + aud
		}
	case AuthTypeEnvOIDC:
		v := get("oidc_token_env")
		if v == "" {
			v = "DATABRICKS_OIDC_TOKEN"
		}
		p.Grant, p.SubjectToken = GrantTokenExchange, "env:"+v
	case AuthTypeFileOIDC:
		p.Grant, p.SubjectToken = GrantTokenExchange, "file:"+get("oidc_token_filepath")
	default:
		return false
	}
	p.ClientID = get(KeyClientID)
	return true
}

// UseDatabricks adds the profiles of the Databricks CLI config file at
// path (see ReadDatabricks). A profile of this file hides a Databricks one
// of the same name: the user named both, in auth's own commands.
func (f *File) UseDatabricks(path string) error {
	return f.useDatabricks(path, false)
}

// UseDatabricksFirst is UseDatabricks where that file wins on a name: for
// the Databricks CLI's commands (`databricks auth token --profile NAME`),
// whose callers (the Databricks SDKs…) read section NAME of that file and
// send the token to its host. A profile of this file of that name, for
// another host, is never used there; nor is it when that section is one
// auth skips (a personal access token…), or there is none, or no file at
// path (an empty one, as for the SDKs): that name then names no profile.
func (f *File) UseDatabricksFirst(path string) error {
	return f.useDatabricks(path, true)
}

func (f *File) useDatabricks(path string, first bool) error {
	ps, skipped, err := ScanDatabricks(path)
	if first && errors.Is(err, ErrNoDatabricksConfig) {
		// The SDKs read a missing file as an empty one: no section of
		// any name, so no profile either.
		ps, skipped, err = nil, nil, nil
	}
	if err != nil {
		return err
	}
	f.DatabricksPath, f.all, f.skipped, f.dbxFirst = path, ps, skipped, first
	f.hide()
	return nil
}

// hide sorts the Databricks profiles into f.dbx and, unless that file
// wins, f.hidden: those that a profile of this file names.
func (f *File) hide() {
	f.dbx, f.hidden = nil, nil
	for _, p := range f.all {
		if _, ok := f.own(p.Name); ok && !f.dbxFirst {
			f.hidden = append(f.hidden, p)
		} else {
			f.dbx = append(f.dbx, p)
		}
	}
}
