package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/dualauth/dualauth/core"
	"github.com/dualauth/dualauth/native"
	"github.com/spf13/cobra"
)

const gitCredentialLong = `A git credential helper: git runs it to get a password for a remote, and
auth answers with a valid access token of the login (the token path of
"auth token": the cached token when it is valid, no network, else a refresh).

  get    reads git's request on stdin and answers username (--username,
         default oauth2), password = the access token and
         password_expiry_utc. When git announces capability[]=authtype
         (git 2.46+) it answers authtype=Bearer and credential=TOKEN instead,
         unless the server asked for other schemes only (wwwauth[]).
  erase  git ran it because the server refused the token: the next get
         hands out a refreshed one.
  store  does nothing: auth keeps its own cache.

Tokens go only to https remotes, or http on a loopback address; scope the
helper to the remote's URL so no other remote gets this login's token.
Set it up once (the empty helper first drops other helpers, such as a
password store, for that URL):

  git config --global --replace-all credential.https://git.example.com.helper ''
  git config --global --add credential.https://git.example.com.helper '!auth git-credential work'

where work is a profile or the host of an "auth login". A failure (not
logged in) exits 1 with the reason on stderr, which git shows before it
asks its next helper or prompts.

git sends bearer tokens only: for a login whose tokens are
bound to a DPoP key (auth login --dpop), get answers nothing and exits 1
with one line saying so, from the cache alone (no network, no lock). Log
in for git with --dpop never.`

// maxGitRequest caps what get/store/erase read from git: a handful of
// short attributes.
const maxGitRequest = 1 << 20

func (a *app) gitCredentialCommand() *cobra.Command {
	var (
		lf       loginFlags
		username string
	)
	cmd := &cobra.Command{
		Use:   "git-credential [HOST|PROFILE] get|store|erase",
		Short: "Git credential helper that answers with a valid access token",
		Long:  gitCredentialLong,
		Example: `  git config --global --replace-all credential.https://git.example.com.helper ''
  git config --global --add credential.https://git.example.com.helper '!auth git-credential work'
  printf 'protocol=https\nhost=git.example.com\n\n' | auth git-credential work get`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 || len(args) > 2 {
				return usagef("%s takes [HOST|PROFILE] and then get, store or erase (git appends it)", cmd.CommandPath())
			}
			switch op := args[len(args)-1]; {
			case op == "get" || op == "store" || op == "erase":
				return nil
			case len(args) == 1:
				return usagef("missing operation (get|store|erase) after %q: git appends it when it runs the helper", op)
			default:
				return usagef("unknown operation %q: git runs the helper with get, store or erase", op)
			}
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			op := args[len(args)-1]
			in, err := readGitRequest(a.input())
			if err != nil {
				return err
			}
			if op == "store" {
				return nil // auth keeps its own cache; nothing to store
			}
			if op == "get" {
				if err := in.checkRemote(); err != nil {
					return err
				}
			}
			_, o, err := a.resolveOptions(cmd, args[:len(args)-1])
			if err != nil {
				return err
			}
			if op == "erase" {
				return gitErase(o, in, lf.minTTL)
			}
			// No signal handler, as in auth token: this is a hot path.
			e, err := a.bearerToken(context.Background(), cmd, nil, o, false, lf.minTTL, "git can only send bearer tokens")
			if err != nil {
				return err
			}
			if strings.ContainsAny(e.AccessToken, "\n\x00") {
				return errors.New("the access token holds a newline or NUL byte, which git's credential protocol cannot carry")
			}
			user := username
			if !cmd.Flags().Changed("username") && in.get("username") != "" {
				user = in.get("username") // the one in the remote's URL
			}
			_, err = io.WriteString(a.stdout, in.answer(user, e))
			return err
		},
	}
	lf.add(cmd.Flags())
	cmd.Flags().StringVar(&username, "username", "oauth2", "user name to give git with the token (most servers ignore it)")
	return cmd
}

func (a *app) input() io.Reader {
	if a.stdin != nil {
		return a.stdin
	}
	return os.Stdin
}

// gitRequest is what git wrote on the helper's stdin: key=value lines up
// to a blank line or the end. Keys ending in [] may repeat.
type gitRequest struct {
	attrs map[string][]string
}

func readGitRequest(r io.Reader) (*gitRequest, error) {
	g := &gitRequest{attrs: map[string][]string{}}
	br := bufio.NewReader(io.LimitReader(r, maxGitRequest))
	for {
		line, err := br.ReadString('\n')
		if err != nil && err != io.EOF {
			return nil, fmt.Errorf("reading git's request on stdin: %v", err)
		}
		line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
		if line == "" {
			return g, nil // the blank line that ends it, or the end
		}
		if k, v, ok := strings.Cut(line, "="); ok {
			g.attrs[k] = append(g.attrs[k], v)
		}
		if err == io.EOF {
			return g, nil
		}
	}
}

func (g *gitRequest) get(key string) string {
	if v := g.attrs[key]; len(v) > 0 {
		return v[len(v)-1]
	}
	return ""
}

func (g *gitRequest) has(key, value string) bool {
	for _, v := range g.attrs[key] {
		if v == value {
			return true
		}
	}
	return false
}

// checkRemote refuses to hand a token to a remote that would carry it in
// the clear: https, or http to a loopback address only.
func (g *gitRequest) checkRemote() error {
	proto, host := g.get("protocol"), g.get("host")
	if proto == "" && host == "" {
		// Not git: a person who ran the helper by hand, with nothing (or
		// not the request) on stdin.
		return usagef("git sent no protocol/host on stdin: git writes them when it runs the helper (to try it by hand, see the example in auth git-credential --help)")
	}
	if (proto == "https" || proto == "http") && core.CheckURL(proto+"://"+host) == nil {
		return nil
	}
	return fmt.Errorf("no token for %s://%s: auth gives tokens to https remotes only (http on loopback addresses)", core.Sanitize(proto), core.Sanitize(host))
}

// bearer reports whether to answer with a Bearer credential: git can take
// one (capability[]=authtype), and the server, if git passed on its
// challenges (wwwauth[]), offers Bearer among them.
func (g *gitRequest) bearer() bool {
	if !g.has("capability[]", "authtype") {
		return false
	}
	challenges := g.attrs["wwwauth[]"]
	if len(challenges) == 0 {
		return true
	}
	for _, c := range challenges {
		scheme, _, _ := strings.Cut(strings.TrimSpace(c), " ")
		if strings.EqualFold(scheme, "Bearer") {
			return true
		}
	}
	return false
}

// answer is get's reply: the token as the password, or as a Bearer
// credential, with its expiry.
func (g *gitRequest) answer(user string, e *core.Entry) string {
	var b strings.Builder
	if g.bearer() {
		// ephemeral: a token that expires is not for a password store.
		b.WriteString("capability[]=authtype\nauthtype=Bearer\ncredential=" + e.AccessToken + "\nephemeral=1\n")
	} else {
		b.WriteString("username=" + strings.NewReplacer("\n", "", "\x00", "").Replace(user) + "\npassword=" + e.AccessToken + "\n")
	}
	if !e.Expiry.IsZero() {
		b.WriteString("password_expiry_utc=" + strconv.FormatInt(e.Expiry.Unix(), 10) + "\n")
	}
	return b.String()
}

// gitErase: git runs erase when the server refused the credential get gave
// it. If that is still the cached token, it is refreshed now; another
// token is left alone: it was refreshed already. The core decides both
// under the lock, in one pass (core.RefreshConfig.Refused), so processes
// erasing the same token together refresh once.
func gitErase(o native.Options, in *gitRequest, minTTL time.Duration) error {
	refused := in.get("password")
	if refused == "" {
		refused = in.get("credential")
	}
	if refused == "" {
		return nil
	}
	ctx, stop := signalContext()
	defer stop()
	_, err := native.Token(ctx, native.TokenOptions{Options: o, MinTTL: minTTL, BearerOnly: true, Refused: refused})
	if errors.As(err, new(*core.DPoPBoundError)) {
		return nil // get gave git no token of this login: none to erase
	}
	return err
}
