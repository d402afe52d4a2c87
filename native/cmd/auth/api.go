package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"unicode/utf8"

	"github.com/dualauth/dualauth/core"
	"github.com/dualauth/dualauth/native"
	"github.com/dualauth/dualauth/native/config"
	"github.com/spf13/cobra"
)

const apiLong = `Make one HTTP request with a valid access token of the login
(Authorization: Bearer, or DPoP with a proof of the request signed by the
login's key for a DPoP login) and print the response body on stdout.

PATH (/api/2.0/clusters/list, with a query if you like) is resolved against
the login's host. A full URL is used as it is, but only on that same host
(scheme, name and port): the token is never sent anywhere else, redirects
to another host are not followed (one on the host is, with a new DPoP proof
for its own method and URL), and URLs must be https (http only on a
loopback address). With a URL and no host named anywhere (argument, --host,
--profile, environment; a default profile of another host does not count),
the login is the one whose resource contains the URL (the longest resource
that is a path prefix of it, as an MCP server's https://mcp.example.com/mcp
for …/mcp/x), else the URL's host. A 403 with error="insufficient_scope" prints one line with the
login command that asks for the login's scopes and the ones the server wants
(it opens no browser and asks nothing; the 403 exits 1 like any other).

-d sends a body (POST unless -X says otherwise): the text itself, @FILE for
a file's content, @- for stdin; it is sent as application/json unless a
-H 'Content-Type: …' says otherwise. -H adds a header; auth sets
Authorization itself.

On a terminal a JSON response is indented (up to 8 MiB of it) and any
control characters are shown escaped; piped or redirected, the body is
written byte for byte. A status other than 2xx exits 1, with the status and
the body on stderr. A 401 that asks for a DPoP nonce (error="use_dpop_nonce")
is answered once with a new proof carrying it, and the nonce is kept with
the login, so that the next auth api and auth proof start with it; another
401 makes auth refresh the token once and retry the request once. --http-timeout bounds each request (default 10s).`

// Caps on what auth api holds in memory: a JSON body it indents for the
// terminal, and an error body it shows on stderr. Larger bodies are
// streamed unindented, or cut, with a note.
const (
	maxIndentBody = 8 << 20
	maxErrorBody  = 64 << 10
)

func (a *app) apiCommand() *cobra.Command {
	var (
		lf           loginFlags
		method, data string
		headerFlags  []string
	)
	cmd := &cobra.Command{
		Use:   "api [HOST|PROFILE] [-X METHOD] PATH|URL [-d BODY|@FILE] [-H 'Name: value']...",
		Short: "Make an authenticated HTTP request to the login's host",
		Long:  apiLong,
		Example: `  auth api work /api/2.0/clusters/list
  auth api https://adb-123.azuredatabricks.net /api/2.0/preview/scim/v2/Me
  auth api work -X POST /api/2.0/clusters/start -d '{"cluster_id": "0123-456789-abcdef"}'
  auth api work /api/2.0/workspace/import -d @notebook.json -H 'X-Request-Id: 42'
  auth api work /api/2.0/jobs/list | jq '.jobs[].job_id'`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 1 || len(args) > 2 {
				return usagef("%s takes [HOST|PROFILE] and a PATH or URL, got %d arguments", cmd.CommandPath(), len(args))
			}
			if len(args) == 1 && !strings.Contains(args[0], "/") {
				// A profile or host name alone: no path to request.
				return usagef("missing PATH after %q: %s %s /PATH (e.g. /api/2.0/clusters/list), or a full URL", args[0], cmd.CommandPath(), args[0])
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			target := args[len(args)-1]
			header, err := parseHeaders(headerFlags, a.named("header", "-H"))
			if err != nil {
				return err
			}
			var body []byte
			if cmd.Flags().Changed("data") {
				if body, err = a.readData(data); err != nil {
					return err
				}
				if header.Get("Content-Type") == "" {
					header.Set("Content-Type", "application/json")
				}
			}
			m := strings.ToUpper(method)
			if m == "" {
				m = http.MethodGet
				if body != nil {
					m = http.MethodPost
				}
			}
			if !core.HTTPToken(m) {
				return usagef("%s %q is not an HTTP method", a.named("method", "-X"), method)
			}
			rs, o, err := a.resolveOptions(cmd, args[:len(args)-1])
			// The default profile is no host named on this command: a URL
			// off its host is looked up as when there is none.
			offDefault := err == nil && strings.HasPrefix(rs.Profile.Source, "default profile") && !core.SameOrigin(rs.Host.Value, target)
			if len(args) == 1 && (errors.Is(err, config.ErrNoHost) || offDefault) && strings.Contains(target, "://") {
				// No host named anywhere: the login whose resource
				// contains the URL, else the URL's own origin.
				if t, perr := url.Parse(target); perr == nil && t.Host != "" {
					origin := t.Scheme + "://" + t.Host
					rs, o, err = a.resolveOptions(cmd, []string{origin + t.EscapedPath()})
					if err != nil || native.LoginForURL(o.Store, rs.Host.Value) == "" {
						rs, o, err = a.resolveOptions(cmd, []string{origin})
					}
				}
			}
			if err != nil {
				return err
			}
			u, err := apiURL(rs.Host.Value, target)
			if err != nil {
				return err
			}
			ctx, stop := signalContext()
			defer stop()
			// The core's resource call: the token, a proof of each request
			// for a DPoP login, the resource's nonce once, one refresh after
			// a 401, same-origin redirects each proved anew.
			ro := native.ResourceOptions{
				TokenOptions: native.TokenOptions{Options: o, MinTTL: lf.minTTL},
				Method:       m,
				URL:          u.String(),
				Header:       header,
				Body:         body,
				KeepNonces:   true, // the next auth api is another process
			}
			resp, _, err := native.CallResource(ctx, ro)
			if err != nil {
				// A profile saved with a grant and no login yet logs in
				// here when it can without a person; the request was not sent.
				var made bool
				if made, err = a.firstGrant(ctx, cmd, rs, err); made {
					resp, _, err = native.CallResource(ctx, ro)
				}
			}
			if errors.Is(err, native.ErrNoAnswer) {
				return fmt.Errorf("%w (raise --http-timeout)", err)
			}
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			if resp.StatusCode < 200 || resp.StatusCode > 299 {
				return a.apiFailed(m, u, resp)
			}
			return a.writeBody(resp)
		},
	}
	f := cmd.Flags()
	lf.add(f)
	f.StringVarP(&method, "method", "X", "", "HTTP method (default GET, or POST with -d)")
	f.StringVarP(&data, "data", "d", "", "request body: the text, @FILE or @- (stdin); sent as JSON unless -H sets Content-Type")
	f.StringArrayVarP(&headerFlags, "header", "H", nil, "request header 'Name: value' (repeatable)")
	return cmd
}

// apiURL is the request URL: a PATH resolved against host, or a URL on
// host itself (same scheme, name and port) — the token goes nowhere else.
func apiURL(host, target string) (*url.URL, error) {
	h, err := url.Parse(host)
	if err != nil {
		return nil, err
	}
	var u *url.URL
	if p, err := url.Parse(target); err == nil && p.IsAbs() && p.Host != "" {
		if err := core.CheckURL(target); err != nil {
			return nil, usageError{err}
		}
		if u, err = url.Parse(target); err != nil {
			return nil, usagef("invalid URL %q", target)
		}
	} else {
		if strings.HasPrefix(target, "//") {
			return nil, usagef("%q is not a path on %s: give /PATH or a full URL", target, host)
		}
		ref, err := url.Parse("/" + strings.TrimPrefix(target, "/"))
		if err != nil {
			return nil, usagef("invalid path %q: %v", target, err)
		}
		u = h.ResolveReference(ref)
	}
	if u.User != nil {
		return nil, usagef("the URL carries user info: auth api authenticates with the token only")
	}
	u.Fragment, u.RawFragment = "", ""
	if !core.SameOrigin(h.String(), u.String()) {
		return nil, usagef("%s is not on %s: auth api sends the login's token to its own host only (log in to the other host, or name it as HOST)", u.Redacted(), host)
	}
	return u, nil
}

// parseHeaders reads -H 'Name: value' flags; flag is how messages name
// them (-H, or the variable that gave them).
func parseHeaders(flags []string, flag string) (http.Header, error) {
	h := http.Header{}
	for _, f := range flags {
		name, value, ok := strings.Cut(f, ":")
		name = strings.TrimSpace(name)
		if !ok || !core.HTTPToken(name) {
			return nil, usagef("%s %q: want 'Name: value'", flag, f)
		}
		if strings.ContainsAny(value, "\r\n\x00") {
			return nil, usagef("%s %s: the value holds a line break or NUL", flag, name)
		}
		switch http.CanonicalHeaderKey(name) {
		case "Authorization":
			return nil, usagef("%s Authorization: auth api sets it to the login's token; use curl for other credentials", flag)
		case "Host":
			return nil, usagef("%s Host: the host comes from HOST or the URL", flag)
		}
		h.Add(name, strings.TrimSpace(value))
	}
	return h, nil
}

// readData is the body of -d: the text, @FILE or @- for stdin.
func (a *app) readData(d string) ([]byte, error) {
	name, ok := strings.CutPrefix(d, "@")
	switch {
	case !ok:
		return []byte(d), nil
	case name == "-":
		b, err := io.ReadAll(a.input())
		if err != nil {
			return nil, fmt.Errorf("reading the body from stdin: %v", err)
		}
		return b, nil
	}
	b, err := os.ReadFile(name)
	if err != nil {
		return nil, usagef("%s @%s: %v", a.named("data", "-d"), name, errors.Unwrap(err))
	}
	return b, nil
}

// apiFailed reports a non-2xx answer on stderr: the status, then the body
// (indented if JSON, cut at maxErrorBody), through the sanitiser.
func (a *app) apiFailed(method string, u *url.URL, resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody+1))
	cut := len(b) > maxErrorBody
	if cut {
		b = b[:maxErrorBody]
	}
	msg := fmt.Sprintf("auth: %s %s: %s", method, u.Redacted(), core.Sanitize(resp.Status))
	if loc := resp.Header.Get("Location"); resp.StatusCode/100 == 3 && loc != "" {
		msg += " to " + core.Sanitize(loc) + " (not followed: another host, or too many redirects)"
	}
	fmt.Fprintln(a.stderr, msg)
	if len(b) > 0 {
		text := core.SanitizeText(string(indentJSON(b)))
		if !strings.HasSuffix(text, "\n") {
			text += "\n"
		}
		io.WriteString(a.stderr, text)
		if cut {
			fmt.Fprintf(a.stderr, "auth: (the body goes on; only its first %d KiB are shown)\n", maxErrorBody>>10)
		}
	}
	return exitError{exitAuth}
}

// writeBody copies a 2xx body to stdout: as is into a pipe or file; on a
// terminal, JSON indented and everything through the sanitiser.
func (a *app) writeBody(resp *http.Response) error {
	if !isTerminal(a.stdout) {
		_, err := io.Copy(a.stdout, resp.Body)
		return err
	}
	head, err := io.ReadAll(io.LimitReader(resp.Body, maxIndentBody+1))
	if err != nil {
		return fmt.Errorf("reading the response: %v", err)
	}
	if len(head) <= maxIndentBody {
		text := core.SanitizeText(string(indentJSON(head)))
		if text != "" && !strings.HasSuffix(text, "\n") {
			text += "\n"
		}
		_, err := io.WriteString(a.stdout, text)
		return err
	}
	// Too big to hold: shown as it comes, sanitised, not indented.
	return copySanitized(a.stdout, io.MultiReader(bytes.NewReader(head), resp.Body))
}

// indentJSON indents b when it is JSON, and returns it unchanged otherwise.
func indentJSON(b []byte) []byte {
	t := bytes.TrimSpace(b)
	if len(t) == 0 || (t[0] != '{' && t[0] != '[') {
		return b
	}
	var out bytes.Buffer
	if json.Indent(&out, t, "", "  ") != nil { // invalid JSON: as it came
		return b
	}
	out.WriteByte('\n')
	return out.Bytes()
}

// copySanitized streams r to w through core.SanitizeText, chunk by chunk,
// never splitting a UTF-8 sequence between two chunks.
func copySanitized(w io.Writer, r io.Reader) error {
	buf := make([]byte, 64<<10)
	carry := 0
	for {
		n, err := r.Read(buf[carry:])
		n += carry
		end := n
		if err == nil {
			// Keep an unfinished rune at the end for the next chunk.
			for i := n - 1; i >= 0 && i >= n-utf8.UTFMax; i-- {
				if utf8.RuneStart(buf[i]) {
					if !utf8.FullRune(buf[i:n]) {
						end = i
					}
					break
				}
			}
		}
		if _, werr := io.WriteString(w, core.SanitizeText(string(buf[:end]))); werr != nil {
			return werr
		}
		carry = copy(buf, buf[end:n])
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading the response: %v", err)
		}
	}
}
