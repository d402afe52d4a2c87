package native

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/matryer/is"
)

func listen(t *testing.T, cfg ListenerConfig) *Listener {
	t.Helper()
	l, err := Listen(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// answer replies to every callback with page until the listener closes.
func answer(l *Listener, page Page) {
	go func() {
		for in := range l.Callbacks() {
			in.Reply(page)
		}
	}()
}

func TestListener_BindsLoopbackOnly(t *testing.T) {
	ipv6 := true
	if ln, err := net.Listen("tcp", "[::1]:0"); err != nil {
		ipv6 = false // no IPv6 loopback here: [::1] must then fail clearly
	} else {
		ln.Close()
	}
	for _, cfg := range []ListenerConfig{
		{},
		{RedirectURI: "http://localhost:PORT/cb"},
		{RedirectURI: "http://[::1]:PORT/cb"},
		{RedirectURI: "http://127.0.0.1:PORT/"},
	} {
		t.Run(fmt.Sprintf("%+v", cfg), func(t *testing.T) {
			is := is.New(t)
			cfg.RedirectURI = strings.Replace(cfg.RedirectURI, "PORT", strconv.Itoa(freePort(t)), 1)
			l, err := Listen(cfg)
			if !ipv6 && strings.Contains(cfg.RedirectURI, "[::1]") {
				is.True(err != nil)
				return
			}
			is.NoErr(err)
			defer l.Close()
			is.True(len(l.Addrs()) > 0)
			for _, a := range l.Addrs() {
				ip := a.(*net.TCPAddr).IP
				is.True(ip.IsLoopback()) // never 0.0.0.0 or ::
				is.True(!ip.IsUnspecified())
			}
		})
	}
}

func TestListener_NotReachableOnOtherInterfaces(t *testing.T) {
	is := is.New(t)
	l := listen(t, ListenerConfig{})
	port := l.Addrs()[0].(*net.TCPAddr).Port
	addrs, err := net.InterfaceAddrs()
	is.NoErr(err)
	tried := 0
	for _, a := range addrs {
		ipn, ok := a.(*net.IPNet)
		if !ok || ipn.IP.IsLoopback() || ipn.IP.To4() == nil {
			continue
		}
		tried++
		c, err := net.DialTimeout("tcp", net.JoinHostPort(ipn.IP.String(), strconv.Itoa(port)), time.Second)
		if err == nil {
			c.Close()
		}
		is.True(err != nil) // the port is closed on every non-loopback address
	}
	t.Logf("checked %d non-loopback addresses", tried)
	// The loopback address itself answers.
	c, err := net.Dial("tcp", l.Addrs()[0].String())
	is.NoErr(err)
	c.Close()
}

func TestListener_RedirectURIUsesTheBoundIPLiteral(t *testing.T) {
	is := is.New(t)
	l := listen(t, ListenerConfig{})
	u, err := url.Parse(l.RedirectURI())
	is.NoErr(err)
	is.Equal(u.Scheme, "http")
	is.Equal(u.Hostname(), "127.0.0.1") // an IP literal, not localhost (S12)
	is.Equal(u.Port(), strconv.Itoa(l.Addrs()[0].(*net.TCPAddr).Port))
	is.Equal(u.Path, DefaultCallbackPath)

	// A registered fixed URI is used exactly as configured.
	fixed := "http://localhost:" + strconv.Itoa(freePort(t)) + "/oauth/cb"
	l2 := listen(t, ListenerConfig{RedirectURI: fixed})
	is.Equal(l2.RedirectURI(), fixed)
}

func TestListener_PicksARandomPortByDefault(t *testing.T) {
	is := is.New(t)
	seen := map[int]bool{}
	for range 3 {
		l := listen(t, ListenerConfig{})
		p := l.Addrs()[0].(*net.TCPAddr).Port
		is.True(p > 0)
		seen[p] = true
	}
	is.Equal(len(seen), 3)
}

func TestListener_BusyFixedPortFailsAtOnceNamingThePort(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	port := busy.Addr().(*net.TCPAddr).Port
	for _, cfg := range []ListenerConfig{
		{Port: port},
		{RedirectURI: fmt.Sprintf("http://127.0.0.1:%d/callback", port)},
		{RedirectURI: fmt.Sprintf("http://localhost:%d", port)},
	} {
		t.Run(fmt.Sprintf("%+v", cfg), func(t *testing.T) {
			is := is.New(t)
			start := time.Now()
			_, err := Listen(cfg)
			is.True(err != nil)
			is.True(time.Since(start) < time.Second)
			is.True(strings.Contains(err.Error(), fmt.Sprintf("port %d", port)))
			is.True(strings.Contains(err.Error(), "in use"))
		})
	}
}

func TestListener_RejectsNonLoopbackOrPortlessRedirectURIs(t *testing.T) {
	for _, uri := range []string{
		"http://example.com:8020/cb",
		"https://127.0.0.1:8020/cb",
		"http://0.0.0.0:8020/cb",
		"http://127.0.0.1/cb",
		"http://127.0.0.1:8020/cb?x=1",
		"custom://cb",
	} {
		t.Run(uri, func(t *testing.T) {
			is := is.New(t)
			_, err := Listen(ListenerConfig{RedirectURI: uri})
			is.True(err != nil)
		})
	}
}

func TestListener_LocalhostRedirectServesBothLoopbackAddresses(t *testing.T) {
	is := is.New(t)
	port := freePort(t)
	l := listen(t, ListenerConfig{RedirectURI: fmt.Sprintf("http://localhost:%d/cb", port)})
	answer(l, Page{Title: "ok"})
	hosts := []string{"127.0.0.1"}
	if len(l.Addrs()) == 2 {
		hosts = append(hosts, "[::1]")
	}
	for _, h := range hosts {
		resp, err := http.Get(fmt.Sprintf("http://%s:%d/cb?x=1", h, port))
		is.NoErr(err)
		resp.Body.Close()
		is.Equal(resp.StatusCode, 200)
	}
}

func TestListener_AnswersOnlyGETOnTheExactCallbackPath(t *testing.T) {
	l := listen(t, ListenerConfig{})
	answer(l, Page{Title: "ok"})
	base := strings.TrimSuffix(l.RedirectURI(), DefaultCallbackPath)
	for _, tc := range []struct {
		method, path string
		want         int
	}{
		{"GET", "/callback?code=c&state=s", 200},
		{"POST", "/callback", 405},
		{"PUT", "/callback", 405},
		{"DELETE", "/callback", 405},
		{"HEAD", "/callback", 405},
		{"GET", "/", 404},
		{"GET", "/callback/", 404},
		{"GET", "/callback/x", 404},
		{"GET", "/CALLBACK", 404},
		{"GET", "/favicon.ico", 404},
		{"GET", "//evil.example/callback", 404},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			is := is.New(t)
			req, err := http.NewRequest(tc.method, base+tc.path, nil)
			is.NoErr(err)
			c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			resp, err := c.Do(req)
			is.NoErr(err)
			resp.Body.Close()
			is.Equal(resp.StatusCode, tc.want)
			is.Equal(resp.Header.Get("Location"), "") // never redirects anywhere
		})
	}
}

func TestListener_IsClosedAfterClose(t *testing.T) {
	is := is.New(t)
	l, err := Listen(ListenerConfig{})
	is.NoErr(err)
	addr := l.Addrs()[0].String()
	is.NoErr(l.Close())
	_, err = net.DialTimeout("tcp", addr, time.Second)
	is.True(err != nil)
}

func TestPage_EscapesEverythingAndSetsSecurityHeaders(t *testing.T) {
	l := listen(t, ListenerConfig{})
	evil := `<script>alert(1)</script><img src="https://evil.example/x">`
	answer(l, Page{Status: 400, Title: evil, Message: evil})
	is := is.New(t)
	resp, err := http.Get(l.RedirectURI() + "?error=" + url.QueryEscape(evil))
	is.NoErr(err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	checkPage(t, resp, string(body))
	is.True(strings.Contains(string(body), "&lt;script&gt;"))
}

func TestPage_IsSelfContained(t *testing.T) {
	is := is.New(t)
	rec := httptest.NewRecorder()
	writePage(rec, Page{Title: "t", Message: "m"})
	body := strings.ToLower(rec.Body.String())
	is.True(!strings.Contains(body, "http:") && !strings.Contains(body, "https:") && !strings.Contains(body, "//")) // no URL of any resource
	is.True(strings.Contains(body, "<h1>t</h1>"))
}

// checkPage asserts S16 on a callback page.
func checkPage(t *testing.T, resp *http.Response, body string) {
	t.Helper()
	is := is.NewRelaxed(t)
	is.Equal(resp.Header.Get("Content-Type"), "text/html; charset=utf-8")
	is.Equal(resp.Header.Get("X-Content-Type-Options"), "nosniff")
	is.Equal(resp.Header.Get("Referrer-Policy"), "no-referrer")
	is.True(strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'none'"))
	lower := strings.ToLower(body)
	is.True(!strings.Contains(lower, "<script"))
	is.True(!strings.Contains(lower, "<img"))
	is.True(!strings.Contains(lower, `src="`))
	is.True(!strings.Contains(lower, `href="`))
	is.True(!strings.Contains(lower, "<link"))
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func TestListener_CustomRedirectPathIsMatchedLiterally(t *testing.T) {
	for name, tc := range map[string]struct{ redirect, hit, miss string }{
		"BracesAreNotAWildcard": {"/cb/{x}", "/cb/%7Bx%7D", "/cb/anything"},
		"EscapedPathMatches":    {"/a%20b", "/a%20b", "/a%2520b"},
	} {
		t.Run(name, func(t *testing.T) {
			is := is.New(t)
			l, err := Listen(ListenerConfig{RedirectURI: fmt.Sprintf("http://127.0.0.1:%d%s", freePort(t), tc.redirect)})
			is.NoErr(err)
			defer l.Close()
			base := "http://" + l.addrs[0].String()
			get := func(p string) int {
				resp, err := http.Get(base + p + "?state=x&code=y")
				is.NoErr(err)
				resp.Body.Close()
				return resp.StatusCode
			}
			go func() {
				for in := range l.Callbacks() {
					in.Reply(Page{Status: http.StatusOK, Title: "ok"})
				}
			}()
			is.Equal(get(tc.miss), http.StatusNotFound)
			is.Equal(get(tc.hit), http.StatusOK)
		})
	}
}

// S40: a page elsewhere can point its own name at 127.0.0.1 (DNS
// rebinding) and reach the port; the listener answers only its own Host,
// and such a request never reaches the login.
func TestListener_AnswersOnlyItsOwnHost(t *testing.T) {
	l := listen(t, ListenerConfig{})
	got := make(chan url.Values, 4)
	go func() {
		for in := range l.Callbacks() {
			got <- in.Query
			in.Reply(Page{Title: "ok"})
		}
	}()
	own := strings.TrimPrefix(strings.TrimSuffix(l.RedirectURI(), DefaultCallbackPath), "http://")
	_, port, _ := net.SplitHostPort(own)
	for _, tc := range []struct {
		host string
		want int
	}{
		{"evil.example:" + port, http.StatusMisdirectedRequest},
		{"evil.example", http.StatusMisdirectedRequest},
		{"localhost:" + port, http.StatusMisdirectedRequest}, // a name, not the literal it bound
		{"127.0.0.1:1", http.StatusMisdirectedRequest},
		{own, http.StatusOK},
	} {
		t.Run(tc.host, func(t *testing.T) {
			is := is.New(t)
			req, err := http.NewRequest("GET", "http://"+own+"/callback?code=c&state=s", nil)
			is.NoErr(err)
			req.Host = tc.host
			resp, err := http.DefaultClient.Do(req)
			is.NoErr(err)
			resp.Body.Close()
			is.Equal(resp.StatusCode, tc.want)
			select {
			case <-got:
				is.Equal(tc.want, http.StatusOK) // only the own host reaches the login
			case <-time.After(50 * time.Millisecond):
				is.True(tc.want != http.StatusOK)
			}
		})
	}
}
