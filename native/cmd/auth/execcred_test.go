package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/matryer/is"
)

// kubeAPI is a small Kubernetes API server over TLS (kubectl runs exec
// credential plugins only for https servers): it answers
// /api/v1/namespaces to a bearer token the provider accepts, and 401
// otherwise. It remembers the tokens it was sent.
type kubeAPI struct {
	srv    *httptest.Server
	caPEM  []byte
	mu     sync.Mutex
	tokens []string
}

func startKubeAPI(t *testing.T, issuer string) *kubeAPI {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "dualauth test kube-apiserver"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true, // its own CA: the kubeconfig trusts it by certificate-authority-data
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	k := &kubeAPI{caPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
	k.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if ok {
			k.mu.Lock()
			k.tokens = append(k.tokens, token)
			k.mu.Unlock()
		}
		if !ok || !acceptedByProvider(issuer, token) {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"Unauthorized","code":401}`)
			return
		}
		switch r.URL.Path {
		case "/api/v1/namespaces":
			fmt.Fprint(w, `{"kind":"NamespaceList","apiVersion":"v1","metadata":{},"items":[{"metadata":{"name":"dualauth-ok"}}]}`)
		case "/version":
			fmt.Fprint(w, `{"major":"1","minor":"30","gitVersion":"v1.30.0"}`)
		default:
			http.NotFound(w, r)
		}
	}))
	k.srv.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
	k.srv.StartTLS()
	t.Cleanup(k.srv.Close)
	return k
}

func (k *kubeAPI) seen() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]string(nil), k.tokens...)
}

// kubeconfig writes a kubeconfig whose user runs `auth token ISSUER -o
// exec-credential` in the given apiVersion.
func (k *kubeAPI) kubeconfig(t *testing.T, dir, issuer, apiVersion string) string {
	t.Helper()
	interactive := ""
	if strings.HasSuffix(apiVersion, "/v1") {
		interactive = "\n      interactiveMode: Never" // required by v1
	}
	cfg := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: test
  cluster:
    server: %s
    certificate-authority-data: %s
users:
- name: test
  user:
    exec:
      apiVersion: %s
      command: %s
      args: [token, %s, -o, exec-credential]%s
contexts:
- name: test
  context: {cluster: test, user: test}
current-context: test
`, k.srv.URL, base64.StdEncoding.EncodeToString(k.caPEM), apiVersion, authBin, issuer, interactive)
	path := filepath.Join(dir, "kubeconfig-"+filepath.Base(apiVersion))
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// kubectlMinor is the minor version of the kubectl on PATH, which
// scripts/ensure-tools.sh installs when missing (Debian 12's
// kubernetes-client is 1.20: exec credentials v1beta1 only; v1 from 1.22).
func kubectlMinor(t *testing.T) int {
	t.Helper()
	if _, err := exec.LookPath("kubectl"); err != nil {
		t.Fatal("kubectl is needed for this test: run `make tools` (scripts/ensure-tools.sh installs Debian's kubernetes-client)")
	}
	out, err := exec.Command("kubectl", "version", "--client", "-o", "json").Output()
	if err != nil {
		t.Fatalf("kubectl version: %v", err)
	}
	var v struct {
		ClientVersion struct{ Minor string } `json:"clientVersion"`
	}
	if err := json.Unmarshal(out, &v); err != nil {
		t.Fatalf("kubectl version: %v: %s", err, out)
	}
	minor, err := strconv.Atoi(strings.TrimRight(v.ClientVersion.Minor, "+"))
	if err != nil {
		t.Fatalf("kubectl version: minor %q", v.ClientVersion.Minor)
	}
	return minor
}

// TestExecCredential_RealKubectlGetsTheTokenAndARefreshAfterExpiry: kubectl
// runs `auth token -o exec-credential` as its exec plugin, sends the token
// to an https API server that checks it with the provider, and after the
// token expired gets a refreshed one, in each apiVersion this kubectl
// speaks (v1beta1 always; v1 from kubectl 1.22).
func TestExecCredential_RealKubectlGetsTheTokenAndARefreshAfterExpiry(t *testing.T) {
	minor := kubectlMinor(t)
	versions := []string{execCredentialV1beta1}
	if minor >= 22 {
		versions = append(versions, execCredentialV1)
	} else {
		t.Logf("kubectl 1.%d speaks v1beta1 only: v1 is tested by running the plugin as kubectl would", minor)
	}
	for _, v := range versions {
		t.Run(filepath.Base(v), func(t *testing.T) {
			is := is.New(t)
			e := newEnv(t)
			first := e.login()
			k := startKubeAPI(t, e.srv.Issuer)
			dir := t.TempDir()
			kc := k.kubeconfig(t, dir, e.srv.Issuer, v)

			r := e.tool(dir, nil, "kubectl", "--kubeconfig", kc, "get", "--raw", "/api/v1/namespaces")
			is.Equal(r.code, 0) // kubectl got in
			is.True(strings.Contains(r.stdout, "dualauth-ok"))
			is.True(len(k.seen()) > 0)
			for _, tok := range k.seen() {
				is.Equal(tok, first.AccessToken) // the cached token, no refresh
			}
			is.Equal(e.srv.Requests("refresh_token"), 0)

			e.expire()
			r = e.tool(dir, nil, "kubectl", "--kubeconfig", kc, "get", "--raw", "/api/v1/namespaces")
			is.Equal(r.code, 0)
			is.True(strings.Contains(r.stdout, "dualauth-ok"))
			is.Equal(e.srv.Requests("refresh_token"), 1) // refreshed once
			now := e.entry()
			is.True(now.AccessToken != first.AccessToken)
			seen := k.seen()
			is.Equal(seen[len(seen)-1], now.AccessToken) // kubectl sent the refreshed token
			checkNoRefreshToken(t, now, r)
		})
	}
}

// TestExecCredential_AnswersInTheAPIVersionKubectlAsksFor runs the plugin
// as kubectl does (KUBERNETES_EXEC_INFO set), for the versions a kubectl
// may ask, the variable unset, and one auth does not speak.
func TestExecCredential_AnswersInTheAPIVersionKubectlAsksFor(t *testing.T) {
	e := newEnv(t)
	en := e.login()
	info := func(v string) string {
		return `{"kind":"ExecCredential","apiVersion":"` + v + `","spec":{"interactive":false}}`
	}
	for _, tc := range []struct {
		name, info, want string
	}{
		{"v1", info(execCredentialV1), execCredentialV1},
		{"v1beta1", info(execCredentialV1beta1), execCredentialV1beta1},
		{"unset", "", execCredentialV1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			is := is.New(t)
			var extra []string
			if tc.info != "" {
				extra = []string{"KUBERNETES_EXEC_INFO=" + tc.info}
			}
			r := e.auth(extra, "token", e.srv.Issuer, "-o", "exec-credential")
			is.Equal(r.code, 0)
			is.Equal(r.stderr, "")
			var out struct {
				Kind, APIVersion string
				Status           map[string]string
			}
			is.NoErr(json.Unmarshal([]byte(r.stdout), &out))
			is.Equal(out.Kind, "ExecCredential")
			is.Equal(out.APIVersion, tc.want)
			is.Equal(len(out.Status), 2) // token and expirationTimestamp, nothing else
			is.Equal(out.Status["token"], en.AccessToken)
			exp, err := time.Parse(time.RFC3339, out.Status["expirationTimestamp"])
			is.NoErr(err)
			is.True(exp.Equal(en.Expiry.Truncate(time.Second)))
			checkNoRefreshToken(t, en, r)
		})
	}
	t.Run("unknown apiVersion", func(t *testing.T) {
		is := is.New(t)
		r := e.auth([]string{"KUBERNETES_EXEC_INFO=" + info("client.authentication.k8s.io/v1alpha1")}, "token", e.srv.Issuer, "-o", "exec-credential")
		is.Equal(r.code, 2)
		is.Equal(r.stdout, "")
		is.True(strings.Contains(r.stderr, "v1alpha1"))
	})
}

// TestExecCredential_WithoutALoginExitsOneWithOneLineAndNoPrompt: never
// interactive, even with a terminal-less kubectl waiting on stdin.
func TestExecCredential_WithoutALoginExitsOneWithOneLineAndNoPrompt(t *testing.T) {
	is := is.New(t)
	e := newEnv(t)
	r := e.auth([]string{"KUBERNETES_EXEC_INFO=" + `{"apiVersion":"` + execCredentialV1 + `","spec":{"interactive":true}}`},
		"token", e.srv.Issuer, "-o", "exec-credential")
	is.Equal(r.code, 1)
	is.Equal(r.stdout, "")
	is.Equal(errorLines(r.stderr), []string{"auth: not logged in to " + e.srv.Issuer + ": run `auth login " + e.srv.Issuer + "`"})
	is.Equal(e.srv.TotalRequests(), 0) // nor any login attempt
}

// execCredentialToken is status.token of an ExecCredential.
func execCredentialToken(t *testing.T, stdout string) string {
	t.Helper()
	var out struct {
		Status struct{ Token string }
	}
	if err := json.Unmarshal([]byte(stdout), &out); err != nil {
		t.Fatalf("not an ExecCredential: %v: %q", err, stdout)
	}
	return out.Status.Token
}
