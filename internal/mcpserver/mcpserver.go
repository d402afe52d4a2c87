// Package mcpserver runs the MCP TypeScript SDK's example server with
// OAuth (npm @modelcontextprotocol/sdk, examples/server/simpleStreamableHttp.js
// --oauth --oauth-strict) for tests: an MCP server at
// http://localhost:PORT/mcp that answers 401 with RFC 9728 resource
// metadata, and its in-memory authorization server (open registration,
// exact redirect URIs, every authorization approved at once with a 302 to
// the redirect URI, no refresh tokens).
//
// It is test support; it needs node and the repository's node_modules
// (npm ci). Both servers listen on 127.0.0.1 only: a preloaded module
// gives the example's listen(port) calls that host.
package mcpserver

import (
	_ "embed"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Server is a running example server.
type Server struct {
	// URL is the MCP endpoint, http://localhost:PORT/mcp (the resource).
	URL string
	// Issuer is its authorization server, http://localhost:AUTHPORT/.
	Issuer string

	cmd  *exec.Cmd
	dir  string
	mu   sync.Mutex
	out  strings.Builder
	once sync.Once
}

// loopbackOnly (loopback.mjs, preloaded with node --import) makes a
// listen(port) without a host bind 127.0.0.1. The browser tests preload the
// same file.
//
//go:embed loopback.mjs
var loopbackOnly string

// RepoRoot is the repository's root directory (where node_modules is).
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// Example is the example server's script, relative to the repository root.
const Example = "node_modules/@modelcontextprotocol/sdk/dist/esm/examples/server/simpleStreamableHttp.js"

// Start runs the example on two free loopback ports and waits until both
// servers answer.
func Start() (*Server, error) {
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, errors.New("mcpserver: node is not installed (Node 20+ runs the MCP example server)")
	}
	script := filepath.Join(RepoRoot(), Example)
	if _, err := os.Stat(script); err != nil {
		return nil, errors.New("mcpserver: " + Example + " is missing: run `npm ci` in the repository root (or `make tools`)")
	}
	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "mcpserver-")
	if err != nil {
		return nil, err
	}
	pre := filepath.Join(dir, "loopback.mjs")
	if err := os.WriteFile(pre, []byte(loopbackOnly), 0o600); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	s := &Server{
		URL:    fmt.Sprintf("http://localhost:%d/mcp", ports[0]),
		Issuer: fmt.Sprintf("http://localhost:%d/", ports[1]),
		dir:    dir,
	}
	s.cmd = exec.Command(node, "--import", pre, script, "--oauth", "--oauth-strict")
	s.cmd.Env = append(os.Environ(), "MCP_PORT="+strconv.Itoa(ports[0]), "MCP_AUTH_PORT="+strconv.Itoa(ports[1]))
	s.cmd.Stdout, s.cmd.Stderr = (*logWriter)(s), (*logWriter)(s)
	s.cmd.WaitDelay = 3 * time.Second
	if err := s.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("mcpserver: starting node: %w", err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for _, u := range []string{s.Issuer + ".well-known/oauth-authorization-server", strings.TrimSuffix(s.URL, "/mcp") + "/.well-known/oauth-protected-resource/mcp"} {
		for {
			resp, err := http.Get(u)
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					break
				}
			}
			if time.Now().After(deadline) {
				s.Close()
				return nil, fmt.Errorf("mcpserver: %s did not answer within 20s; output:\n%s", u, s.Output())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return s, nil
}

// Close stops the server (by its PID) and removes its files.
func (s *Server) Close() {
	s.once.Do(func() {
		s.cmd.Process.Kill()
		s.cmd.Wait()
		os.RemoveAll(s.dir)
	})
}

// Output is what the server printed.
func (s *Server) Output() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.out.String()
}

type logWriter Server

func (w *logWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.out.Len() < 1<<20 {
		w.out.Write(p)
	}
	return len(p), nil
}

// freePorts finds n free loopback ports (held together, so distinct).
func freePorts(n int) ([]int, error) {
	var ports []int
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer ln.Close()
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
