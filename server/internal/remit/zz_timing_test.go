package remit_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"villagesync/server/internal/remit"
)

func TestZZTiming(t *testing.T) {
	files, _ := filepath.Glob("/tmp/fz/*")
	for _, f := range files {
		b, _ := os.ReadFile(f)
		lines := strings.SplitN(string(b), "\n", 4)
		data, err1 := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[1], "[]byte("), ")"))
		name, _ := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[2], "string("), ")"))
		if err1 != nil { t.Log("unquote", err1, lines[1][:20]); continue }
		start := time.Now()
		_, err := remit.ParsePostings([]byte(data), name)
		if d := time.Since(start); d > 20*time.Millisecond {
			t.Logf("%s %v %d bytes %v", filepath.Base(f), d, len(data), err)
		}
	}
}
