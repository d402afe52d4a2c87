// Command testidp runs the test OpenID Connect provider of package testidp
// on loopback, for tests that are not written in Go (browser tests, shell
// scripts). It prints one JSON line {"issuer": "http://127.0.0.1:PORT"} on
// stdout once it serves, and runs until SIGTERM, SIGINT or the end of its
// standard input (so it dies with a parent that holds its stdin pipe).
//
//	testidp -client dualauth-cli=http://127.0.0.1/callback -access-ttl 5s
//
// GET /_test/stats answers {"authorization_code": N, "refresh_token": N,
// "requests": N}: how many token-endpoint requests of each grant type it
// has seen, and how many requests in all.
//
// With -login URL it instead acts as the user's browser for a provider
// started elsewhere: it signs in through the login form of the authorize
// URL and then fetches the final redirect (the client's loopback callback),
// which is how a BROWSER command completes a CLI login without a display.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/dualauth/dualauth/internal/testidp"
)

type clientFlag []testidp.Client

func (c *clientFlag) String() string { return fmt.Sprint(*c) }

func (c *clientFlag) Set(v string) error {
	id, uris, _ := strings.Cut(v, "=")
	if id == "" {
		return fmt.Errorf("want ID=uri1,uri2")
	}
	cl := testidp.Client{ID: id}
	if uris != "" {
		cl.RedirectURIs = strings.Split(uris, ",")
	}
	*c = append(*c, cl)
	return nil
}

func main() {
	var clients clientFlag
	addr := flag.String("addr", "127.0.0.1:0", "loopback `address` to listen on")
	ttl := flag.Duration("access-ttl", 0, "access token lifetime (0: the provider's 5m)")
	verbose := flag.Bool("v", false, "log every request to stderr")
	login := flag.String("login", "", "sign in through this authorize `URL` and fetch the final redirect, then exit")
	flag.Var(&clients, "client", "register a native public client `ID=uri1,uri2` (repeatable; default uri http://127.0.0.1/callback)")
	flag.Parse()

	if *login != "" {
		if err := loginAndFollow(*login); err != nil {
			fmt.Fprintln(os.Stderr, "testidp:", err)
			os.Exit(1)
		}
		return
	}

	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelInfo
	}
	srv, err := testidp.Start(testidp.Options{
		Clients:   clients,
		AccessTTL: *ttl,
		Addr:      *addr,
		Logger:    slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})),
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer srv.Close()
	srv.Intercept(func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path != "/_test/stats" {
			return false
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Access-Control-Allow-Origin", "*")
		json.NewEncoder(w).Encode(srv.Stats())
		return true
	})
	json.NewEncoder(os.Stdout).Encode(map[string]string{"issuer": srv.Issuer})

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	go func() {
		io.Copy(io.Discard, os.Stdin)
		stop()
	}()
	<-ctx.Done()
}

// loginAndFollow signs in and delivers the redirect to the client, as a
// browser would.
func loginAndFollow(authorizeURL string) error {
	u, err := url.Parse(authorizeURL)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// A server that hands its sign-in page on to the provider's (a test
	// host in front of this provider, on its own origin) answers with a
	// redirect to another origin: sign in there.
	if fwd, err := forwarded(ctx, u); err != nil {
		return err
	} else if fwd != nil {
		u, authorizeURL = fwd, fwd.String()
	}
	issuer := u.Scheme + "://" + u.Host
	final, err := testidp.LoginWith(ctx, issuer, authorizeURL)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, final.String(), nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("delivering the redirect: %w", err)
	}
	resp.Body.Close()
	return nil
}

// forwarded is where authorize redirects to when that is another origin
// and not a loopback callback (a redirect URI carries code or error), else
// nil.
func forwarded(ctx context.Context, authorize *url.URL) (*url.URL, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, authorize.String(), nil)
	if err != nil {
		return nil, err
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	resp.Body.Close()
	loc, err := resp.Location()
	if err != nil || loc.Host == authorize.Host {
		return nil, nil
	}
	if q := loc.Query(); q.Has("code") || q.Has("error") {
		return nil, nil
	}
	return loc, nil
}
