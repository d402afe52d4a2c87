package native

import (
	"context"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dualauth/dualauth/core"
	"github.com/matryer/is"
)

func TestHTTPClient_TrustsTheExtraCACertificateOnlyWhenGiven(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"ok":true}`))
	}))
	defer srv.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	req := core.Request{Method: "GET", URL: srv.URL + "/.well-known/openid-configuration"}
	t.Run("WithCACert", func(t *testing.T) {
		is := is.New(t)
		c, err := NewHTTPClient(HTTPOptions{CACertFile: ca})
		is.NoErr(err)
		resp, err := Do(context.Background(), c, req)
		is.NoErr(err)
		is.Equal(resp.Status, 200)
		is.Equal(string(resp.Body), `{"ok":true}`)
	})
	t.Run("WithoutCACert", func(t *testing.T) {
		is := is.New(t)
		c, err := NewHTTPClient(HTTPOptions{})
		is.NoErr(err)
		_, err = Do(context.Background(), c, req)
		is.True(err != nil)
		is.True(strings.Contains(err.Error(), "certificate"))
	})
	t.Run("NotPEM", func(t *testing.T) {
		is := is.New(t)
		bad := filepath.Join(t.TempDir(), "bad.pem")
		is.NoErr(os.WriteFile(bad, []byte("hello"), 0o600))
		_, err := NewHTTPClient(HTTPOptions{CACertFile: bad})
		is.True(err != nil)
		is.True(strings.Contains(err.Error(), "no PEM certificate"))
	})
}

func TestHTTPClient_NeverFollowsRedirects(t *testing.T) {
	is := is.New(t)
	hit := false
	target := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hit = true }))
	defer target.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL, http.StatusTemporaryRedirect)
	}))
	defer srv.Close()
	c, err := NewHTTPClient(HTTPOptions{Timeout: time.Second})
	is.NoErr(err)
	resp, err := Do(context.Background(), c, core.Request{Method: "POST", URL: srv.URL, Form: map[string][]string{"refresh_token": {"secret"}}})
	is.NoErr(err)
	is.Equal(resp.Status, http.StatusTemporaryRedirect)
	is.True(!hit) // the form with its secrets went nowhere else
}
