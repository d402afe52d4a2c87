package native

import (
	"context"
	"testing"
	"time"

	"github.com/dualauth/dualauth/core"
)

// BenchmarkToken_ValidFromCache is the in-process cost of `auth token` on a
// valid token: read and decode the cache file, no lock, no network.
func BenchmarkToken_ValidFromCache(b *testing.B) {
	c := &FileCache{Dir: b.TempDir()}
	e := entry("https://a.example", "cli", "tok")
	unlock, err := c.Lock(context.Background(), e.Key())
	if err != nil {
		b.Fatal(err)
	}
	for _, other := range []string{"https://b.example", "https://c.example", "https://d.example"} {
		c.Save(core.Key(other, "cli"), entry(other, "cli", "x"))
	}
	c.Save(e.Key(), e)
	unlock()
	o := TokenOptions{Options: Options{Target: core.Target{Host: "https://a.example"}, ClientID: "cli", Store: c}}
	b.ResetTimer()
	for range b.N {
		got, err := Token(context.Background(), o)
		if err != nil || got.AccessToken != "tok" {
			b.Fatal(err)
		}
	}
}

// BenchmarkFileCache_Save is the cost of one atomic write (temp, fsync,
// rename, fsync dir) under the lock.
func BenchmarkFileCache_Save(b *testing.B) {
	c := &FileCache{Dir: b.TempDir()}
	e := entry("https://a.example", "cli", "tok")
	unlock, err := c.Lock(context.Background(), e.Key())
	if err != nil {
		b.Fatal(err)
	}
	defer unlock()
	b.ResetTimer()
	for i := range b.N {
		e.Expiry = time.Unix(int64(i), 0)
		if err := c.Save(e.Key(), e); err != nil {
			b.Fatal(err)
		}
	}
}
