package main

import (
	"errors"
	"io"
	"strings"
	"testing"

	"villagesync/agentapp/internal/agenttest"
)

// serve refuses an address the network can reach: the UI holds the
// unlocked key.
func TestServeRefusesNonLoopback(t *testing.T) {
	t.Parallel()
	tab := agenttest.NewTablet(t, nil, "")
	for _, addr := range []string{"0.0.0.0:8377", ":8377", "192.168.1.20:8377"} {
		var errb strings.Builder
		err := run(t.Context(), []string{"--db", tab.Path, "serve", "--addr", addr}, strings.NewReader(""), io.Discard, &errb)
		var ue usageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), "loopback") {
			t.Fatalf("serve --addr %s: %v", addr, err)
		}
	}
}

// An idle time of zero or less would mean "never lock" or "lock at once":
// both are refused rather than quietly replaced.
func TestServeRefusesNonPositiveIdle(t *testing.T) {
	t.Parallel()
	tab := agenttest.NewTablet(t, nil, "")
	for _, idle := range []string{"0", "-1m"} {
		err := run(t.Context(), []string{"--db", tab.Path, "serve", "--idle", idle}, strings.NewReader(""), io.Discard, io.Discard)
		var ue usageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), "--idle") {
			t.Fatalf("serve --idle %s: %v", idle, err)
		}
	}
}
