package native

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/dualauth/dualauth/core"
)

// DefaultHTTPTimeout bounds each request to the authorization server,
// connection included: an unreachable host fails in seconds, not minutes.
const DefaultHTTPTimeout = 10 * time.Second

// HTTPOptions configure the client for the authorization server.
type HTTPOptions struct {
	// Timeout per request; 0 means DefaultHTTPTimeout.
	Timeout time.Duration
	// CACertFile is a PEM file of extra trusted roots.
	CACertFile string
}

// NewHTTPClient returns a client with timeouts, the proxy from the
// environment (HTTPS_PROXY, NO_PROXY…) and the extra CA roots, if any.
func NewHTTPClient(o HTTPOptions) (*http.Client, error) {
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = DefaultHTTPTimeout
	}
	dialer := &net.Dialer{Timeout: min(timeout, 5*time.Second), KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dialer.DialContext,
		TLSHandshakeTimeout:   min(timeout, 5*time.Second),
		ResponseHeaderTimeout: timeout,
		MaxIdleConns:          4,
		IdleConnTimeout:       30 * time.Second,
		ForceAttemptHTTP2:     true,
	}
	if o.CACertFile != "" {
		pem, err := os.ReadFile(o.CACertFile)
		if err != nil {
			return nil, fmt.Errorf("reading the CA certificate: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("the CA certificate file %s holds no PEM certificate", o.CACertFile)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return &http.Client{
		Transport: tr,
		Timeout:   timeout,
		// Token and metadata endpoints answer directly; following a
		// redirect could send a form with secrets somewhere else.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}, nil
}

// Do performs a request-as-data from the core.
func Do(ctx context.Context, c *http.Client, r core.Request) (core.Response, error) {
	var body io.Reader
	if b := r.Body(); b != "" {
		body = strings.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, r.URL, body)
	if err != nil {
		return core.Response{}, fmt.Errorf("bad request: %v", err)
	}
	for k, v := range r.Header {
		req.Header.Set(k, v)
	}
	req.Header.Set("User-Agent", "dualauth")
	resp, err := c.Do(req)
	if err != nil {
		return core.Response{}, describeHTTPError(err, c.Timeout)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, core.MaxResponseBytes+1))
	if err != nil {
		return core.Response{}, describeHTTPError(err, c.Timeout)
	}
	if len(b) > core.MaxResponseBytes {
		return core.Response{}, core.ErrTooLarge
	}
	return core.Response{Status: resp.StatusCode, ContentType: resp.Header.Get("Content-Type"), WWWAuthenticate: resp.Header.Get("WWW-Authenticate"), DPoPNonce: resp.Header.Get("DPoP-Nonce"), Body: b}, nil
}

// describeHTTPError says what went wrong in a line, without the request
// (which never carries secrets in its URL, but is noise).
func describeHTTPError(err error, timeout time.Duration) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var ne net.Error
	switch {
	case errors.Is(err, context.Canceled):
		return errors.New("canceled")
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return fmt.Errorf("no answer within %s", timeout)
	}
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Err != nil {
		return fmt.Errorf("%s: %v", oe.Op, oe.Err)
	}
	return err
}
