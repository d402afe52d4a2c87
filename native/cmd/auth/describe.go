package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/dualauth/dualauth/core"
	"github.com/dualauth/dualauth/native"
	"github.com/spf13/cobra"
)

// description is what `auth describe` shows, and its JSON schema.
type description struct {
	Settings  map[string]setting `json:"settings"`
	Endpoints *core.Metadata     `json:"endpoints,omitempty"`
	// Resolution is what the login found out about the host, and where
	// each answer came from.
	Resolution *core.Resolution `json:"resolution,omitempty"`
	Token      tokenStatus      `json:"token"`
	// TokenScopes are the scopes of the cached login itself (granted, or
	// asked for when the server did not say), which another profile of
	// the same host and client may have asked for.
	TokenScopes []string          `json:"token_scopes,omitempty"`
	Identity    map[string]string `json:"identity,omitempty"`
	Storage     *storageInfo      `json:"storage,omitempty"`
	Paths       map[string]string `json:"paths"`
	// Grant is set for a login without a person: the grant in use and
	// where the client secret is (never the secret).
	Grant *grantInfo `json:"grant,omitempty"`
	// DPoP is set for a login whose tokens are bound to a DPoP key: the
	// key's thumbprint and where it is kept (never the key).
	DPoP *dpopInfo `json:"dpop,omitempty"`
	// Sensitive values, only with --sensitive.
	AccessToken string `json:"access_token,omitempty"`
}

type dpopInfo struct {
	// JKT is the RFC 7638 thumbprint of the key (the tokens' cnf.jkt).
	JKT string `json:"jkt"`
	// KeptIn is the OS keyring item or the 0600 file that holds the key.
	KeptIn string `json:"kept_in"`
	// AccessTokenBound: the server answered with a DPoP token. When false
	// it answered the proofs with a Bearer token; the key still proves
	// the refreshes.
	AccessTokenBound bool `json:"access_token_bound"`
}

type storageInfo struct {
	Requested string `json:"requested"`
	InUse     string `json:"in_use"`
	Reason    string `json:"reason"`
}

func (a *app) describeCommand() *cobra.Command {
	var (
		clientID, accountID, output string
		sensitive                   bool
	)
	cmd := &cobra.Command{
		Use:   "describe [HOST|PROFILE]",
		Short: "Show the resolved settings of a login and where each came from",
		Long: `Show every setting auth would use for HOST or PROFILE — host, profile,
client, scopes, redirect URI, account, CA certificate, storage, login flow,
DPoP mode — and where each came from (argument, flag, environment, profile
NAME, default, cache; the profile's file, or Databricks CLI config file and
[section], and whether it hides a Databricks CLI profile of the same name),
the endpoints found by discovery at login, the token's state and its own
scopes (those of the cached login, which another profile of the same host
and client may have asked for: then they differ from Scopes), the storage
in use and why, and the cache, lock and config paths. For a login whose
tokens are bound to a DPoP key: the key's thumbprint (jkt, the tokens'
cnf.jkt) and where the key is kept, the OS keyring item or its 0600 file.

No network is used. Token values are never shown unless --sensitive; a
private key never is.`,
		Example: `  auth describe https://idp.example.com
  auth describe work -o json
  auth describe --sensitive`,
		Args: maxArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			output, err := a.outputFormat(output, "text", "json")
			if err != nil {
				return err
			}
			rs, o, err := a.resolveOptions(cmd, args)
			if err != nil {
				return err
			}
			if err := rs.cachedClient(o.Store); err != nil {
				return err
			}
			d := description{
				Settings: map[string]setting{
					"host": rs.Host, "profile": rs.Profile, "client_id": rs.ClientID, "scopes": rs.Scopes,
					"redirect_uri": rs.RedirectURI, "account_id": rs.AccountID, "ca_cert": rs.CACert, "storage": rs.Storage,
					"flow": rs.Flow, "dpop": rs.DPoP,
				},
				Paths: map[string]string{"config": rs.file.Path},
			}
			if rs.file.DatabricksPath != "" {
				d.Paths["databricks_config"] = rs.file.DatabricksPath
			}
			if d.Settings["redirect_uri"].Value == "" {
				d.Settings["redirect_uri"] = setting{"http://127.0.0.1:<free port>/callback", "default"}
			}
			var entry *core.Entry
			if rs.ClientID.Value != "" {
				_, entry, err = o.Store.Load(core.IssuerKeys(rs.target(), rs.ClientID.Value))
				if err != nil {
					return err
				}
			}
			d.Token = statusOf(entry, time.Now())
			d.Token.login = rs.loginName()
			d.Grant = describeGrant(rs, o.Store, entry)
			if rs.withoutPerson() {
				for k, v := range map[string]setting{"grant": rs.Grant, "client_key": rs.ClientKey, "client_auth": rs.ClientAuth, "subject_token": rs.SubjectToken, "subject_token_type": rs.SubjectTokenType} {
					d.Settings[k] = v
				}
			}
			if entry != nil {
				m := entry.Metadata
				d.Endpoints = &m
				d.TokenScopes = entry.Scopes
				d.Resolution = entry.Resolution
				rs.targetScopes(entry.Resolution) // what a login again asks for
				d.Settings["scopes"] = rs.Scopes
				if c, err := core.DecodeJWT(entry.IDToken); err == nil {
					d.Identity = map[string]string{"subject": c.Subject, "email": c.Email, "name": c.Name}
				}
				if sensitive {
					d.AccessToken = entry.AccessToken
				}
				d.DPoP = describeDPoP(o.Store, entry)
			}
			if ks, ok := o.Store.(*native.KeyringStore); ok {
				info, _ := ks.Resolve()
				d.Storage = &storageInfo{Requested: string(info.Requested), InUse: string(info.InUse), Reason: info.Reason}
				d.Paths["cache"] = ks.File.Path()
				d.Paths["lock"] = filepath.Join(filepath.Dir(ks.File.Path()), native.LockFileName)
			}
			if output == "json" {
				enc := json.NewEncoder(a.stdout)
				enc.SetEscapeHTML(false) // "<free port>", not "\u003cfree port\u003e"
				enc.SetIndent("", "  ")
				return enc.Encode(d)
			}
			return a.printDescription(d)
		},
	}
	f := cmd.Flags()
	f.StringVar(&clientID, "client-id", "", "OAuth client of the login")
	f.StringVar(&accountID, "account-id", "", "Databricks account ID")
	f.StringVarP(&output, "output", "o", "text", "output format: text (or table) or json")
	f.BoolVar(&sensitive, "sensitive", false, "also show the access token")
	return cmd
}

func (a *app) printDescription(d description) error {
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	row := func(label, value, source string) {
		if value == "" {
			value = "-"
		}
		if source != "" {
			source = "(" + source + ")"
		}
		// Values come from files and servers (S37).
		fmt.Fprintf(tw, "%s\t%s\t%s\n", label, core.Sanitize(value), core.Sanitize(source))
	}
	for _, k := range []struct{ key, label string }{
		{"host", "Host"}, {"profile", "Profile"}, {"client_id", "Client ID"}, {"scopes", "Scopes"},
		{"redirect_uri", "Redirect URI"}, {"account_id", "Account ID"}, {"ca_cert", "CA certificate"}, {"storage", "Storage"},
		{"flow", "Login flow"}, {"dpop", "DPoP"},
	} {
		s := d.Settings[k.key]
		row(k.label, s.Value, s.Source)
	}
	if len(d.TokenScopes) > 0 {
		from := "the cached login's"
		if !sameScopes(strings.Join(d.TokenScopes, " "), d.Settings["scopes"].Value) {
			from += "; not the scopes above: another profile or command of this host and client logged in with these. auth login logs in with the scopes above"
		}
		row("Token scopes", strings.Join(d.TokenScopes, " "), from)
	}
	if d.Storage != nil {
		row("Storage in use", d.Storage.InUse, d.Storage.Reason)
	}
	if g := d.Grant; g != nil {
		for _, k := range []struct{ key, label string }{{"grant", "Grant"}, {"client_key", "Client key"}, {"client_auth", "Client auth"}, {"subject_token", "Subject token"}, {"subject_token_type", "Subject token type"}} {
			if s, ok := d.Settings[k.key]; ok && s.Value != "" {
				row(k.label, s.Value, s.Source)
			}
		}
		row("Grant in use", g.InUse, "cache, the login's")
		row("Client secret", g.ClientSecret, "")
	}
	if r := d.Resolution; r != nil {
		row("Host kind", string(r.Kind), r.KindFrom)
		row("Resource", r.Resource, r.ResourceFrom)
		if r.ClientIDFrom != "" {
			row("Client at login", r.ClientID, r.ClientIDFrom)
		}
	}
	if m := d.Endpoints; m != nil {
		from := "discovery, stored at login"
		if r := d.Resolution; r != nil && r.IssuerFrom != "" {
			from = r.IssuerFrom + ", stored at login"
		}
		row("Issuer", m.Issuer, from)
		row("Authorization endpoint", m.AuthorizationEndpoint, "")
		row("Token endpoint", m.TokenEndpoint, "")
		row("Revocation endpoint", m.RevocationEndpoint, "")
		row("Device endpoint", m.DeviceAuthorizationEndpoint, "")
	} else {
		row("Endpoints", "not known yet", "found by discovery at login")
	}
	row("Token", d.Token.String(), "")
	if k := d.DPoP; k != nil {
		bound := "the access token is bound to it"
		if !k.AccessTokenBound {
			bound = "the server answered with a Bearer token; refreshes are proved with the key"
		}
		row("DPoP key", "jkt "+k.JKT, bound)
		row("DPoP key kept in", k.KeptIn, "never shown")
	}
	if id := d.Identity; id != nil {
		who := id["email"]
		if who == "" {
			who = id["subject"]
		}
		row("Signed in as", who, "id_token")
	}
	if d.AccessToken != "" {
		row("Access token", d.AccessToken, "--sensitive")
	}
	row("Config file", d.Paths["config"], "")
	if p, ok := d.Paths["databricks_config"]; ok {
		row("Databricks config", p, "read only")
	}
	row("Cache file", d.Paths["cache"], "")
	row("Lock file", d.Paths["lock"], "")
	return tw.Flush()
}

type grantInfo struct {
	// InUse is the cached login's grant, e.g. "client credentials
	// (client_secret_post)"; "" before the first login.
	InUse string `json:"in_use,omitempty"`
	// ClientSecret says where the secret is: the OS keyring, a file, the
	// Databricks CLI config file, or none.
	ClientSecret string `json:"client_secret"`
}

// describeGrant says which grant a login without a person uses and where
// its secret is kept; nil for a person's login.
func describeGrant(rs *settings, s native.Store, e *core.Entry) *grantInfo {
	if !rs.withoutPerson() && (e == nil || e.Grant == nil) {
		return nil
	}
	g := &grantInfo{ClientSecret: "none"}
	if e != nil && e.Grant != nil {
		g.InUse = core.Sanitize(e.Grant.Describe())
	}
	switch {
	case rs.secret != "":
		g.ClientSecret = "in the Databricks CLI config file " + rs.file.DatabricksPath + " (read at each new token)"
	case native.SecretLocation(e) == native.StorageKeyring:
		g.ClientSecret = "in the OS keyring (" + native.KeyringName() + ")"
	case native.SecretLocation(e) == native.StorageFile:
		if ks, ok := s.(*native.KeyringStore); ok {
			g.ClientSecret = "in " + ks.SecretsPath() + " (0600)"
		}
	}
	return g
}

// describeDPoP says which key a DPoP login's tokens are bound to and where
// that key is kept; nil for a bearer login.
func describeDPoP(s native.Store, e *core.Entry) *dpopInfo {
	if e == nil || e.DPoP == nil {
		return nil
	}
	k := &dpopInfo{JKT: e.DPoP.JKT, KeptIn: "unknown (the key name in the cache is not one of auth's)", AccessTokenBound: e.BoundToKey()}
	if ks, ok := s.(*native.KeyringStore); ok {
		if where, err := ks.DPoPKeyLocation(e.DPoP.Key); err == nil {
			k.KeptIn = where
		}
	}
	return k
}
