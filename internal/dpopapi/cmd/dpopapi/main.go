// Command dpopapi runs the DPoP-only test resource of package dpopapi for
// browser tests: it prints {"url": RESOURCE} when it serves, answers
// GET /_test/stats with its counts, and exits when stdin ends.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/dualauth/dualauth/internal/dpopapi"
)

func main() {
	issuer := flag.String("issuer", "", "the authorization server whose tokens it takes")
	cors := flag.String("cors", "", "browser origin allowed to call it")
	flag.Parse()
	if *issuer == "" {
		fmt.Fprintln(os.Stderr, "dpopapi: -issuer is required")
		os.Exit(2)
	}
	s := dpopapi.Start(*issuer)
	s.CORS = *cors
	s.Stats = func(w http.ResponseWriter) {
		json.NewEncoder(w).Encode(map[string]int{"accepted": s.Accepted(), "refused": s.Refused(""), "use_dpop_nonce": s.Refused("use_dpop_nonce"), "bearer": s.Refused("bearer")})
	}
	json.NewEncoder(os.Stdout).Encode(map[string]string{"url": s.URL, "origin": strings.TrimSuffix(s.URL, dpopapi.Path)})
	io.Copy(io.Discard, os.Stdin)
	s.Close()
}
