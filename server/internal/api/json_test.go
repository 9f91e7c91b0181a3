package api

import (
	"testing"

	"villagesync/syncproto"
)

// bind decodes from a pooled buffer and puts it back: what it decoded
// must not point into the buffer. decodeJSON is strict.
func TestDecodeJSONCopies(t *testing.T) {
	t.Parallel()
	body := []byte(`{"mutations":[{"id":"01KMZ7XGQ3T0V0Z3W9Y8X7V6AB","payload":{"name":"𠀾家村 张三","amount":20000}}]}`)
	var req syncproto.PushRequest
	if err := decodeJSON(body, &req); err != nil {
		t.Fatal(err)
	}
	for i := range body {
		body[i] = 'X' // as the next request's body would
	}
	if m := req.Mutations[0]; m.ID != "01KMZ7XGQ3T0V0Z3W9Y8X7V6AB" || string(m.Payload) != `{"name":"𠀾家村 张三","amount":20000}` {
		t.Fatalf("decoded values changed with the buffer: %q %q", m.ID, m.Payload)
	}
	for _, bad := range []string{
		`{"mutations":[],"extra":1}`, // a member the call does not know
		`{"mutations":[]} {}`,        // a second value
		`{"mutations":[`,             // cut short
		``,
	} {
		if err := decodeJSON([]byte(bad), new(syncproto.PushRequest)); err == nil {
			t.Errorf("%q decoded without error", bad)
		}
	}
	if err := decodeJSON([]byte(" \n"+`{"mutations":[]}`+"\n "), new(syncproto.PushRequest)); err != nil {
		t.Errorf("white space around the value: %v", err)
	}
}
