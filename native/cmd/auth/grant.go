package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/dualauth/dualauth/core"
	"github.com/dualauth/dualauth/native"
	"github.com/dualauth/dualauth/native/config"
	"github.com/spf13/cobra"
)

// envClientSecret is where a job may give the client secret instead of
// stdin. It is read by `auth login` only: the secret is stored then.
const envClientSecret = "DUALAUTH_CLIENT_SECRET"

// maxSecretInput caps a client secret read from stdin.
const maxSecretInput = 64 << 10

const grantHelp = `

Without a person (CI, services, containers; never a browser):
  --client-secret-stdin    client credentials with the client's secret, read
                           from stdin (or $DUALAUTH_CLIENT_SECRET). It is kept
                           in the OS keyring when --storage allows, else in a
                           0600 file beside the token cache; never in the
                           profiles file. client_secret_basic is tried first
                           (client_secret_post when the server lists only
                           that); a server that refuses it with
                           invalid_client gets client_secret_post once, and
                           what worked is remembered. --client-auth basic|post
                           forces one.
  --client-key PATH        client credentials with a private key (RFC 7523
                           private_key_jwt): PKCS #8 PEM or a JWK, EC P-256
                           (ES256) or RSA (RS256). The path is saved, never
                           the key; it is read at each new token.
  --subject-token SOURCE   token exchange (RFC 8693) of the job's own token:
                           github-actions[:AUDIENCE] (the workflow needs
                           "permissions: id-token: write"), file:PATH (e.g. a
                           Kubernetes projected service-account token) or
                           env:VAR. Read afresh at each exchange, never stored.
                           --subject-token-type defaults to
                           urn:ietf:params:oauth:token-type:jwt.
Scopes default to none (all-apis on Databricks hosts). At a Databricks host,
github-actions without an audience asks for the one Databricks federation
expects: the account ID, else the workspace's token endpoint. "auth token" then
makes the grant again, under the login's lock, when the token expires: there is
no refresh token. With --profile the settings are saved (never the secret).`

const grantExamples = `
  # Without a person (CI, services): the client's secret, its key, the job's own token:
  printf '%s' "$SECRET" | auth login https://idp.example.com --client-id svc --client-secret-stdin
  auth login https://idp.example.com --client-id svc --client-key svc-key.pem --profile svc
  auth login https://adb-123.4.azuredatabricks.net --client-id SP_ID --subject-token github-actions`

// grantFlags are the login flags of a login without a person.
type grantFlags struct {
	secretStdin                                      bool
	clientKey, clientAuth, subject, subjectTokenType string
}

func (g *grantFlags) register(cmd *cobra.Command) {
	f := cmd.Flags()
	f.BoolVar(&g.secretStdin, "client-secret-stdin", false, "log in as the client itself: read its secret from stdin (or set $DUALAUTH_CLIENT_SECRET)")
	f.StringVar(&g.clientKey, "client-key", "", "log in as the client itself with its private key (PEM PKCS #8 or JWK; EC P-256 or RSA)")
	f.StringVar(&g.clientAuth, "client-auth", "", "client authentication with a secret: basic or post (default: from the server's metadata, then the other once)")
	f.StringVar(&g.subject, "subject-token", "", "exchange this job's token: github-actions[:AUDIENCE], file:PATH or env:VAR")
	f.StringVar(&g.subjectTokenType, "subject-token-type", "", "RFC 8693 type of the subject token (default urn:ietf:params:oauth:token-type:jwt)")
}

// resolveGrant fills the settings of a login without a person: flags, else
// the profile. The grant is the profile's, else what the flags imply.
func (s *settings) resolveGrant(a *app, cmd *cobra.Command, p config.Profile) {
	s.ClientKey = a.pick(cmd, "client-key", p.ClientKey, p.Name, "", "")
	s.ClientAuth = a.pick(cmd, "client-auth", p.ClientAuth, p.Name, "", "")
	s.SubjectToken = a.pick(cmd, "subject-token", p.SubjectToken, p.Name, "", "")
	s.SubjectTokenType = a.pick(cmd, "subject-token-type", p.SubjectTokenType, p.Name, "", "")
	s.secret = p.ClientSecret
	if p.Grant != "" {
		s.Grant = setting{p.Grant, "profile " + p.Name}
		if p.Origin != "" {
			s.Grant.Source += " (" + p.Origin + ")"
		}
	}
	switch {
	case a.flagSource(cmd, "subject-token") != "":
		s.Grant = setting{config.GrantTokenExchange, a.flagSource(cmd, "subject-token")}
	case a.flagSource(cmd, "client-key") != "":
		s.Grant = setting{config.GrantClientCredentials, a.flagSource(cmd, "client-key")}
	case a.flagSource(cmd, "client-secret-stdin") != "":
		s.Grant = setting{config.GrantClientCredentials, a.flagSource(cmd, "client-secret-stdin")}
	case s.Grant.Value == "" && a.flagSource(cmd, "client-auth") != "":
		s.Grant = setting{config.GrantClientCredentials, a.flagSource(cmd, "client-auth")}
	case s.Grant.Value == "" && cmd.Name() == "login" && a.getenv(envClientSecret) != "":
		// Decided here, before the defaults that differ for a person
		// (scopes, redirect URI) are chosen.
		s.Grant = setting{config.GrantClientCredentials, "env " + envClientSecret}
	}
}

// withoutPerson: the login is a grant without a person, no browser.
func (s *settings) withoutPerson() bool { return s.Grant.Value != "" }

// scopesWithoutPerson is the source of the scopes of a login without a
// person that names none: core.DefaultGrantScopes by the host's name, and
// at the login what resolution found (core.Resolution.GrantScopes).
const scopesWithoutPerson = "default without a person"

// saveGrant records a login without a person in profile p: the grant
// always (so that a later login never opens a browser), the rest when given
// as flags. Never the secret.
func (s *settings) saveGrant(p *config.Profile, fromFlag func(setting) bool) {
	if !s.withoutPerson() {
		return
	}
	p.Grant = s.Grant.Value
	if fromFlag(s.ClientKey) {
		p.ClientKey = s.ClientKey.Value // absolute already (grantLogin)
	}
	if fromFlag(s.ClientAuth) {
		p.ClientAuth = s.ClientAuth.Value
	}
	if fromFlag(s.SubjectToken) {
		p.SubjectToken = s.SubjectToken.Value
	}
	if fromFlag(s.SubjectTokenType) {
		p.SubjectTokenType = s.SubjectTokenType.Value
	}
}

// browserOnly are login flags that mean nothing without a person.
var browserOnly = []string{"flow", "device", "paste", "no-browser", "port", "redirect-uri", "browser", "prompt", "no-prompt", "auth-param"}

// grantLogin logs in without a person (see grantHelp): never a browser;
// nothing saved when the grant fails.
func (a *app) grantLogin(cmd *cobra.Command, rs *settings, secretStdin bool) error {
	ctx, stop := signalContext()
	defer stop()
	gopts, err := a.grantOptions(ctx, cmd, rs, secretStdin)
	if errors.Is(err, errNoSecret) {
		return usagef("%s logs in with the client's secret: give it on stdin with --client-secret-stdin or in $%s (or use --client-key)", describeWho(rs), envClientSecret)
	}
	if err != nil {
		return err
	}
	if err := a.grantAndSay(ctx, rs, gopts); err != nil {
		return err
	}
	return a.saveProfile(rs)
}

// errNoSecret: a client credentials login without a key has no secret.
var errNoSecret = errors.New("no client secret")

// grantAndSay makes the grant of gopts and says so on stderr.
func (a *app) grantAndSay(ctx context.Context, rs *settings, gopts native.GrantOptions) error {
	e, err := native.GrantLogin(ctx, gopts)
	if err != nil {
		return err
	}
	valid := "without an expiry"
	if !e.Expiry.IsZero() {
		valid = "valid until " + e.Expiry.Local().Format(time.RFC3339)
	}
	fmt.Fprintf(a.stderr, "Logged in to %s as client %s (%s); token %s%s\n", rs.Host.Value, core.Sanitize(gopts.ClientID), core.Sanitize(e.Grant.Describe()), valid, secretWhere(gopts.Store, e, gopts.DontStoreSecret))
	return nil
}

// grantOptions checks the settings of a login without a person and finds
// its secret (stdin only when secretStdin), the key and the subject-token
// source, and what the host is; errNoSecret when a client secret is needed
// and there is none.
func (a *app) grantOptions(ctx context.Context, cmd *cobra.Command, rs *settings, secretStdin bool) (native.GrantOptions, error) {
	var none native.GrantOptions
	t := rs.target()
	for _, f := range browserOnly {
		if src := a.flagSource(cmd, f); strings.HasPrefix(src, "flag ") {
			return none, usagef("--%s belongs to a login in a browser, not to one without a person (--client-secret-stdin, --client-key, --subject-token)", f)
		}
	}
	id := rs.ClientID.Value
	if id == "" || strings.HasPrefix(rs.ClientID.Source, "default") {
		return none, usagef("a login without a person needs the client's own ID: pass --client-id (on Databricks, the service principal's application ID)")
	}
	var secret string
	dontStore := false
	switch {
	case secretStdin:
		s, err := readSecret(a.flagName("client-secret-stdin"))
		if err != nil {
			return none, err
		}
		secret = s
	case a.getenv(envClientSecret) != "":
		secret = a.getenv(envClientSecret)
	case rs.secret != "":
		secret, dontStore = rs.secret, true // it stays in the Databricks CLI config file
	}
	g := core.Grant{Type: core.ClientCredentialsGrantType}
	if rs.Scopes.Source != scopesWithoutPerson {
		g.Scopes = native.ParseScopes(rs.Scopes.Value) // else the core's default for what the host turns out to be
	}
	switch rs.Grant.Value {
	case config.GrantClientCredentials:
	case config.GrantTokenExchange:
		g.Type, g.SubjectToken, g.SubjectTokenType = core.TokenExchangeGrantType, rs.SubjectToken.Value, rs.SubjectTokenType.Value
	default:
		return none, usagef("grant %q (%s): want %s or %s", rs.Grant.Value, rs.Grant.Source, config.GrantClientCredentials, config.GrantTokenExchange)
	}
	if k := rs.ClientKey.Value; k != "" {
		abs, err := filepath.Abs(k) // the saved path works from any directory
		if err != nil {
			return none, err
		}
		rs.ClientKey.Value, g.Key = abs, abs
	}
	switch rs.ClientAuth.Value {
	case "":
	case "basic", "post":
		g.ClientAuth, g.AuthForced = "client_secret_"+rs.ClientAuth.Value, true
	default:
		return none, usagef("%s must be basic or post, not %q", given(rs.ClientAuth.Source), rs.ClientAuth.Value)
	}
	if err := g.Check(secret != ""); errors.Is(err, core.ErrNoClientSecret) {
		return none, errNoSecret
	} else if errors.Is(err, core.ErrClientAuth) && g.AuthForced {
		return none, usagef("%s %s: %v", given(rs.ClientAuth.Source), rs.ClientAuth.Value, err) // where the method came from
	} else if err != nil {
		return none, usageError{err}
	}
	o, err := a.options(t, id)
	if err != nil {
		return none, err
	}
	o.ClientSecret = secret
	gopts := native.GrantOptions{Options: o, DontStoreSecret: dontStore, Grant: g}
	if _, err := gopts.Check(); err != nil { // the key and source before any request
		return none, err
	}
	if gopts.Resolution, err = a.resolveTarget(ctx, cmd, rs, o); err != nil {
		return none, err
	}
	gopts.Target = gopts.Resolution.LoginTarget(rs.hostTarget())
	return gopts, nil
}

func describeWho(rs *settings) string {
	if rs.Profile.Value != "" {
		return "profile " + rs.Profile.Value
	}
	return "this login"
}

// readSecret reads the client secret from stdin: its first line, never
// from a terminal (where it would be echoed). flag is how messages name
// the flag that asked for it (app.flagName).
func readSecret(flag string) (string, error) {
	in := stdin
	if in == nil {
		if isTerminal(os.Stdin) {
			return "", usagef("%s reads a pipe or a file, not a terminal (it would show the secret): printf '%%s' \"$SECRET\" | auth login …, or set $%s", flag, envClientSecret)
		}
		in = os.Stdin
	}
	line, err := bufio.NewReader(io.LimitReader(in, maxSecretInput)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("reading the client secret from stdin: %v", err)
	}
	s := strings.TrimSpace(line)
	if s == "" {
		return "", usagef("%s: stdin is empty: pipe the secret in (printf '%%s' \"$SECRET\" | auth login …), or set $%s", flag, envClientSecret)
	}
	return s, nil
}

// secretWhere completes the login line with where the client secret is.
func secretWhere(s native.Store, e *core.Entry, elsewhere bool) string {
	if elsewhere {
		return "; client secret read from the Databricks CLI config file at each new token"
	}
	ks, ok := s.(*native.KeyringStore)
	if !ok {
		return ""
	}
	switch native.SecretLocation(e) {
	case native.StorageKeyring:
		return "; client secret in the OS keyring (" + native.KeyringName() + ")"
	case native.StorageFile:
		return "; client secret in " + ks.SecretsPath() + " (0600)"
	}
	return ""
}

// firstGrant makes the first login of a profile saved with a grant (see
// grantHelp) when a token command found no login (err): the secret from
// $DUALAUTH_CLIENT_SECRET or a Databricks CLI config file, the key file,
// the subject-token source — whatever needs no person, never stdin or a
// prompt. The grant is made under the login's lock (N parallel first
// calls make one grant) and saved as auth login saves it. made reports a
// login to ask for the token again; otherwise err is the error to report:
// err itself, or, when the profile could not log in by itself, why.
func (a *app) firstGrant(ctx context.Context, cmd *cobra.Command, rs *settings, err error) (made bool, _ error) {
	rs.nameLogin(err)
	var lr *core.LoginRequiredError
	if rs == nil || !rs.withoutPerson() || !errors.As(err, &lr) || lr.Cause != nil || lr.WithoutPerson {
		return false, err // a login exists, or it is not a grant's
	}
	gopts, gerr := a.grantOptions(ctx, cmd, rs, false)
	var ue usageError
	switch {
	case errors.Is(gerr, errNoSecret):
		nl := *lr
		nl.WithoutPerson = true
		return false, fmt.Errorf("%w; or set $%s and %s logs in by itself", &nl, envClientSecret, cmd.CommandPath())
	case errors.As(gerr, &ue):
		return false, gerr
	case gerr != nil:
		return false, fmt.Errorf("%w to %s, and %s could not log in by itself: %w", core.ErrNotLoggedIn, rs.Host.Value, describeWho(rs), gerr)
	}
	gopts.Once = true
	if err := a.grantAndSay(ctx, rs, gopts); err != nil {
		return false, err
	}
	return true, nil
}
