//go:build ignore

// Measurement helper for scripts/bench.sh.
//
//	measure runs N [-stdin FILE] -- CMD_A... --- CMD_B...
//	    runs A and B alternately N times each, after 3 unmeasured runs of
//	    each (stdout discarded; A reads FILE on stdin if given), and prints,
//	    per command, the median and p90 wall time and the median peak RSS.
//	measure parallel N -- CMD...
//	    starts N copies at once and prints the wall time until all exit.
//	measure expire CACHE_FILE
//	    moves the expiry of every cached token into the past.
//	measure get URL
//	    prints the body of a GET (the provider's /_test/stats).
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"syscall"
	"time"
)

func main() {
	switch os.Args[1] {
	case "runs":
		runs()
	case "parallel":
		parallel()
	case "expire":
		expire()
	case "get":
		resp, err := http.Get(os.Args[2])
		if err != nil {
			fail("%v", err)
		}
		io.Copy(os.Stdout, resp.Body)
		resp.Body.Close()
	default:
		fail("unknown subcommand %q", os.Args[1])
	}
}

func fail(f string, a ...any) {
	fmt.Fprintf(os.Stderr, "measure: "+f+"\n", a...)
	os.Exit(1)
}

func run1(argv []string, stdin string) (time.Duration, int64) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stderr = os.Stderr
	if stdin != "" {
		f, err := os.Open(stdin)
		if err != nil {
			fail("%v", err)
		}
		defer f.Close()
		cmd.Stdin = f
	}
	start := time.Now()
	if err := cmd.Run(); err != nil {
		fail("%v: %v", argv, err)
	}
	d := time.Since(start)
	return d, cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss
}

// warmup is how many runs of each command come before the measured ones.
const warmup = 3

func runs() {
	n, _ := strconv.Atoi(os.Args[2])
	rest, stdin := os.Args[3:], ""
	if len(rest) > 1 && rest[0] == "-stdin" {
		stdin, rest = rest[1], rest[2:]
	}
	rest = rest[1:] // the --
	i := slices.Index(rest, "---")
	a, b := rest[:i], rest[i+1:]
	// Warm-up: the first runs of a binary just built page it in from a
	// cold page cache; they measure the disk, not the program.
	for range warmup {
		run1(a, stdin)
		run1(b, "")
	}
	var ta, tb []time.Duration
	var ra, rb []int64
	for range n {
		d, r := run1(a, stdin)
		ta, ra = append(ta, d), append(ra, r)
		d, r = run1(b, "")
		tb, rb = append(tb, d), append(rb, r)
	}
	report := func(t []time.Duration, r []int64) map[string]float64 {
		slices.Sort(t)
		slices.Sort(r)
		return map[string]float64{
			"median_ms": float64(t[len(t)/2].Microseconds()) / 1000,
			"p90_ms":    float64(t[len(t)*9/10].Microseconds()) / 1000,
			"rss_kb":    float64(r[len(r)/2]),
		}
	}
	out, _ := json.Marshal(map[string]any{"a": report(ta, ra), "b": report(tb, rb), "runs": n})
	fmt.Println(string(out))
}

func parallel() {
	n, _ := strconv.Atoi(os.Args[2])
	argv := os.Args[4:]
	cmds := make([]*exec.Cmd, n)
	for i := range cmds {
		cmds[i] = exec.Command(argv[0], argv[1:]...)
		cmds[i].Stderr = os.Stderr
	}
	start := time.Now()
	for _, c := range cmds {
		if err := c.Start(); err != nil {
			fail("%v", err)
		}
	}
	failed := 0
	for _, c := range cmds {
		if c.Wait() != nil {
			failed++
		}
	}
	fmt.Printf("{\"wall_ms\":%.1f,\"failed\":%d}\n", float64(time.Since(start).Microseconds())/1000, failed)
}

func expire() {
	b, err := os.ReadFile(os.Args[2])
	if err != nil {
		fail("%v", err)
	}
	var c map[string]any
	if err := json.Unmarshal(b, &c); err != nil {
		fail("%v", err)
	}
	for _, e := range c["tokens"].(map[string]any) {
		e.(map[string]any)["expiry"] = time.Now().Add(-time.Minute).Format(time.RFC3339)
	}
	out, _ := json.MarshalIndent(c, "", "  ")
	if err := os.WriteFile(os.Args[2], out, 0o600); err != nil {
		fail("%v", err)
	}
}
