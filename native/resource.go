package native

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"

	"github.com/dualauth/dualauth/core"
)

// ResourceOptions configure [CallResource].
type ResourceOptions struct {
	TokenOptions
	// Method ("" is GET) and URL of the request.
	Method string
	URL    string
	// Header holds the caller's headers; the call sets Authorization and,
	// for a DPoP login, DPoP itself.
	Header http.Header
	// Body is sent with the request, and again with a retry or a 307/308
	// redirect (not after a 301, 302 or 303, which turn into a GET).
	Body []byte
	// Nonces are a resource's DPoP nonces kept from earlier calls (the
	// returned entry's DPoP.Nonces).
	Nonces map[string]string
	// KeepNonces saves a nonce the resource gave with the login, for the
	// next process (see core.ResourceCallConfig.KeepNonces).
	KeepNonces bool
}

// ErrNoAnswer is wrapped by the error of a resource that did not answer
// within the HTTP timeout.
var ErrNoAnswer = errors.New("no answer")

// maxDiscard is what is read of a response the call moves past (a nonce
// retry, a redirect) so that its connection can be reused.
const maxDiscard = 64 << 10

// CallResource sends one request to a protected resource with the login's
// token, as [core.ResourceCall] says: Authorization Bearer or DPoP with a
// proof of each request, one retry with the resource's DPoP nonce, one
// forced refresh and retry after another 401, and same-origin redirects
// only, each with a proof of its own. The response is the caller's to read
// and close; the entry is the login's, with the nonces the resource gave.
func CallResource(ctx context.Context, o ResourceOptions) (*http.Response, *core.Entry, error) {
	s, id, err := o.storeAndClient()
	if err != nil {
		return nil, nil, err
	}
	d := o.driver(s)
	var last *http.Response
	discard := func() {
		if last != nil {
			io.Copy(io.Discard, io.LimitReader(last.Body, maxDiscard))
			last.Body.Close()
			last = nil
		}
	}
	d.fetchResource = func(ctx context.Context, e core.FetchResource) core.Event {
		discard()
		resp, err := d.sendResource(ctx, e, o.Header, o.Body)
		if err != nil {
			if ctx.Err() != nil {
				return core.Aborted{Err: abortReason(ctx)}
			}
			return core.Fetched{Err: err, Now: d.now()}
		}
		last = resp
		return core.Fetched{Now: d.now(), Response: core.Response{
			Status:          resp.StatusCode,
			ContentType:     resp.Header.Get("Content-Type"),
			WWWAuthenticate: resp.Header.Get("WWW-Authenticate"),
			DPoPNonce:       resp.Header.Get("DPoP-Nonce"),
			Location:        resp.Header.Get("Location"),
		}}
	}
	done := d.Run(ctx, core.NewResourceCall(core.ResourceCallConfig{
		Token: core.RefreshConfig{
			Target: o.Target,
			Client: core.Client{ID: id, Secret: o.ClientSecret},
			Skew:   o.Skew,
			MinTTL: o.MinTTL,
		},
		Method:     o.Method,
		URL:        o.URL,
		Nonces:     o.Nonces,
		KeepNonces: o.KeepNonces,
	}))
	if done.Err == nil && (done.Response == nil || last == nil) {
		done.Err = errors.New("the resource call ended without a response")
	}
	if done.Err != nil {
		discard()
		return nil, done.Entry, done.Err
	}
	return last, done.Entry, nil
}

// sendResource performs one [core.FetchResource]: the caller's headers and
// body under the machine's method, URL and credentials. The client follows
// no redirect: the machine decides, and proves each hop anew.
func (d *Driver) sendResource(ctx context.Context, e core.FetchResource, header http.Header, body []byte) (*http.Response, error) {
	c, err := d.httpClient()
	if err != nil {
		return nil, err
	}
	var rb io.Reader
	if e.Body && body != nil {
		rb = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, e.Request.Method, e.Request.URL, rb)
	if err != nil {
		return nil, fmt.Errorf("bad request: %v", err)
	}
	req.Header = header.Clone()
	if req.Header == nil {
		req.Header = http.Header{}
	}
	if rb == nil {
		req.Header.Del("Content-Type") // a redirect turned it into a GET
	}
	for k, v := range e.Request.Header {
		req.Header.Set(k, v)
	}
	if req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", "dualauth")
	}
	resp, err := c.Do(req)
	if err != nil {
		where := e.Request.Method + " " + redacted(e.Request.URL)
		var ue *url.Error
		var ne net.Error
		if errors.As(err, &ue) && ue.Timeout() || errors.As(err, &ne) && ne.Timeout() {
			return nil, fmt.Errorf("%s: %w within %s", where, ErrNoAnswer, c.Timeout)
		}
		return nil, fmt.Errorf("%s: %v", where, describeHTTPError(err, c.Timeout))
	}
	return resp, nil
}

func redacted(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "the resource"
	}
	return u.Redacted()
}
