//go:build ignore

// The bench baseline: the least a program can do to hand out a cached
// token — read the cache file, find the entry, print the token JSON. Built
// static like bin/auth; `auth token` on a valid token is compared with it.
//
//	baseline CACHE_FILE "ISSUER CLIENT_ID"
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"time"
)

func main() {
	b, err := os.ReadFile(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var c struct {
		Tokens map[string]struct {
			AccessToken string    `json:"access_token"`
			TokenType   string    `json:"token_type"`
			Expiry      time.Time `json:"expiry"`
		} `json:"tokens"`
	}
	if err := json.Unmarshal(b, &c); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	e, ok := c.Tokens[os.Args[2]]
	if !ok {
		fmt.Fprintln(os.Stderr, "not found")
		os.Exit(1)
	}
	out, _ := json.MarshalIndent(map[string]string{
		"access_token": e.AccessToken, "token_type": e.TokenType, "expiry": e.Expiry.Format(time.RFC3339),
	}, "", "  ")
	fmt.Printf("%s\n", out)
}
