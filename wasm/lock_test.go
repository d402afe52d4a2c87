//go:build js && wasm

package main

import (
	"fmt"
	"testing"
	"time"

	"github.com/matryer/is"
)

func TestLock_SecondHolderWaitsUntilTheFirstUnlocks(t *testing.T) {
	is := is.New(t)
	name := fmt.Sprintf("%stest-%d", lockPrefix, testSeq.Add(1))
	release, err := acquireLock(name, 5*time.Second)
	is.NoErr(err)

	got := make(chan func(), 1)
	go func() {
		r, err := acquireLock(name, 5*time.Second)
		if err != nil {
			t.Errorf("second acquire: %v", err)
			close(got)
			return
		}
		got <- r
	}()
	select {
	case <-got:
		t.Fatal("the second holder got the lock while the first held it")
	case <-time.After(200 * time.Millisecond):
	}
	release()
	select {
	case r, ok := <-got:
		is.True(ok)
		r()
	case <-time.After(3 * time.Second):
		t.Fatal("the second holder did not get the lock after the first released it")
	}
}

func TestLock_WaitGivesUpWithLockTimeout(t *testing.T) {
	is := is.New(t)
	name := fmt.Sprintf("%stest-%d", lockPrefix, testSeq.Add(1))
	release, err := acquireLock(name, 5*time.Second)
	is.NoErr(err)
	defer release()

	start := time.Now()
	_, err = acquireLock(name, 150*time.Millisecond)
	is.Equal(errorCode(err), "lock_timeout")
	is.True(time.Since(start) < 3*time.Second)
}

func TestLock_ReleasedLockCanBeTakenAgainAtOnce(t *testing.T) {
	is := is.New(t)
	name := fmt.Sprintf("%stest-%d", lockPrefix, testSeq.Add(1))
	for range 20 {
		release, err := acquireLock(name, time.Second)
		is.NoErr(err)
		release()
	}
}
