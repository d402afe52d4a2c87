package native

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/dualauth/dualauth/core"
)

// GrantOptions configure [GrantLogin].
type GrantOptions struct {
	// Options.ClientSecret authenticates the client (client_secret_basic,
	// else client_secret_post); it is stored as the Store keeps secrets
	// (the OS keyring or a 0600 file, see [KeyringStore]) unless
	// DontStoreSecret.
	Options
	// DontStoreSecret: the secret lives elsewhere (a Databricks CLI
	// config file) and is given again to every [Token] call.
	DontStoreSecret bool
	// Grant is the grant: Type, Key (a private key file), SubjectToken,
	// ClientAuth to force one, Scopes. Alg is found from the key.
	Grant core.Grant
	// Timeout bounds the whole login; 0 means one minute.
	Timeout time.Duration
	// Resolution, from [Resolve], skips discovery; its resource is asked
	// for at every grant, and it is saved with the login.
	Resolution *core.Resolution
	// Once: the first token of a saved grant, asked for by a token command
	// (see core.GrantConfig.Once). The login's lock is taken before the
	// grant, and a valid token another process saved meanwhile is returned
	// instead of making a second grant.
	Once bool
}

// GrantLogin logs in without a person: client credentials with a secret
// or a private key (RFC 7523), or a token exchange (RFC 8693) of a
// workload's token. It never opens a browser. The key file is read (and
// its type checked) before any request; nothing is saved when the grant
// fails. [Token] then repeats the grant when the token expires.
func GrantLogin(ctx context.Context, o GrantOptions) (*core.Entry, error) {
	g, err := o.Check()
	if err != nil {
		return nil, err
	}
	if o.ClientID == "" {
		return nil, errors.New("no client ID")
	}
	s, err := o.store()
	if err != nil {
		return nil, err
	}
	if o.ClientSecret != "" && !o.DontStoreSecret {
		// Settle where the secret goes before anything is sent.
		if err := settleStorage(s); err != nil {
			return nil, err
		}
	}
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = time.Minute
	}
	ctx, cancel := context.WithTimeoutCause(ctx, timeout, fmt.Errorf("%w: no token within %s", ErrTimeout, timeout))
	defer cancel()
	done := o.driver(s).Run(ctx, core.NewGrantLogin(core.GrantConfig{
		Target:          o.Target,
		Client:          core.Client{ID: o.ClientID, Secret: o.ClientSecret},
		SecretElsewhere: o.DontStoreSecret,
		Grant:           g,
		DPoP:            o.DPoP,
		Resolution:      o.Resolution,
		Once:            o.Once,
	}))
	if done.Err != nil {
		return nil, done.Err
	}
	e := *done.Entry
	e.ClientSecret = ""
	if _, saved, err := s.Load([]string{e.Key()}); err == nil && saved != nil {
		e.ClientSecretIn = saved.ClientSecretIn // where the store put it
	}
	return &e, nil
}

// Check looks at what a grant login needs on this machine before any
// request: the key file (read, its type checked, its algorithm filled in)
// and the subject token source (the file readable, the variable set, a
// GitHub Actions job's variables present). It returns the grant to use.
func (o GrantOptions) Check() (core.Grant, error) {
	g := o.Grant
	if g.Key != "" {
		k, err := LoadSigningKey(g.Key)
		if err != nil {
			return g, err
		}
		g.Alg = k.Alg
	}
	if g.Type != core.TokenExchangeGrantType {
		return g, nil
	}
	src, err := core.ParseSubjectTokenSource(g.SubjectToken)
	if err != nil {
		return g, err
	}
	getenv := o.Getenv
	if getenv == nil {
		getenv = osGetenv
	}
	switch src.Kind {
	case core.SourceFile:
		f, err := os.Open(src.Arg)
		if err != nil {
			return g, fmt.Errorf("the subject token file: %w", err)
		}
		f.Close()
	case core.SourceEnv:
		if getenv(src.Arg) == "" {
			return g, fmt.Errorf("the subject token variable %s is not set", src.Arg)
		}
	case core.SourceGitHubActions:
		if getenv(EnvActionsIDTokenURL) == "" || getenv(EnvActionsIDTokenToken) == "" {
			return g, errNoActionsToken
		}
	}
	return g, nil
}
