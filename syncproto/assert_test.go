package syncproto_test

import (
	"errors"
	"strings"
	"testing"

	"villagesync/syncproto"
)

// requireErr fails unless err is a *syncproto.Error with code whose English
// message contains msg and whose Chinese message is set.
func requireErr(tb testing.TB, err error, code syncproto.Code, msg string) {
	tb.Helper()
	var e *syncproto.Error
	if !errors.As(err, &e) {
		tb.Fatalf("error = %v (%T), want *syncproto.Error %s", err, err, code)
	}
	if e.Code != code {
		tb.Fatalf("code = %q, want %q (%v)", e.Code, code, err)
	}
	if !strings.Contains(e.Message, msg) {
		tb.Fatalf("message = %q, want it to contain %q", e.Message, msg)
	}
	if e.MessageZH == "" {
		tb.Fatalf("message_zh is empty for %v", err)
	}
}

// requireCode fails unless err is a *syncproto.Error with code; fuzz targets
// use it where the message is not predictable.
func requireCode(tb testing.TB, err error, code syncproto.Code) {
	tb.Helper()
	var e *syncproto.Error
	if !errors.As(err, &e) || e.Code != code || e.Message == "" || e.MessageZH == "" {
		tb.Fatalf("error = %#v, want *syncproto.Error with code %q and both messages", err, code)
	}
}
