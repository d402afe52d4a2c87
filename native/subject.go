package native

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"

	"github.com/dualauth/dualauth/core"
)

// maxSubjectToken caps a subject token read from a file or the
// environment: projected service-account tokens and CI tokens are 1–2 kB.
const maxSubjectToken = 64 << 10

// GitHub Actions' variables for a job's OIDC token (set when the job has
// `permissions: id-token: write`).
const (
	EnvActionsIDTokenURL   = "ACTIONS_ID_TOKEN_REQUEST_URL"
	EnvActionsIDTokenToken = "ACTIONS_ID_TOKEN_REQUEST_TOKEN"
)

var errNoActionsToken = errors.New(EnvActionsIDTokenURL + " or " + EnvActionsIDTokenToken + " is not set: outside GitHub Actions use file:PATH or env:VAR; in a workflow, give the job `permissions: id-token: write`")

// readSubjectToken performs [core.ReadSubjectToken]: afresh each time, a
// file's content, a variable's value, or a GitHub Actions job's token
// asked of its token endpoint. Errors never carry the token.
func (d *Driver) readSubjectToken(ctx context.Context, source string) (string, error) {
	src, err := core.ParseSubjectTokenSource(source)
	if err != nil {
		return "", err
	}
	getenv := d.getenv()
	switch src.Kind {
	case core.SourceFile:
		b, err := readCapped(src.Arg, maxSubjectToken)
		if err != nil {
			return "", err
		}
		return string(b), nil
	case core.SourceEnv:
		v := getenv(src.Arg)
		if v == "" {
			return "", fmt.Errorf("%s is not set", src.Arg)
		}
		if len(v) > maxSubjectToken {
			return "", fmt.Errorf("%s is larger than %d bytes", src.Arg, maxSubjectToken)
		}
		return v, nil
	}
	reqURL, bearer := getenv(EnvActionsIDTokenURL), getenv(EnvActionsIDTokenToken)
	if reqURL == "" || bearer == "" {
		return "", errNoActionsToken
	}
	req, err := core.GitHubIDTokenRequest(reqURL, bearer, src.Arg)
	if err != nil {
		return "", err
	}
	c, err := d.httpClient()
	if err != nil {
		return "", err
	}
	resp, err := Do(ctx, c, req)
	if err != nil {
		return "", fmt.Errorf("asking GitHub Actions for the job's token: %v", err)
	}
	return core.ParseGitHubIDToken(resp)
}

func (d *Driver) getenv() func(string) string {
	if d.Getenv != nil {
		return d.Getenv
	}
	return osGetenv
}

func (d *Driver) httpClient() (*http.Client, error) {
	if d.HTTP == nil {
		c, err := NewHTTPClient(d.HTTPOptions)
		if err != nil {
			return nil, err
		}
		d.HTTP = c
	}
	return d.HTTP, nil
}

// sign performs [core.Sign]: the key file is read at each signature (a
// rotated key is picked up; the core never holds it).
func (d *Driver) sign(e core.Sign) ([]byte, error) {
	if IsDPoPKey(e.Key) {
		return d.signDPoP(e)
	}
	if e.Key == "" {
		return nil, errors.New("no private key")
	}
	k, err := LoadSigningKey(e.Key)
	if err != nil {
		return nil, err
	}
	if !d.keyWarned {
		if st, err := os.Stat(e.Key); err == nil && st.Mode().Perm()&0o077 != 0 {
			// The user's own file (--client-key): said, never changed.
			d.keyWarned = true
			d.warn(fmt.Sprintf("the private key %s can be read by other users (mode %04o); dualauth leaves your file as it is: run chmod 600 %s unless others are meant to read it", e.Key, st.Mode().Perm(), e.Key))
		}
	}
	return k.Sign(e.Alg, e.Input)
}
