package api

import (
	"bytes"
	"sync"

	"villagesync/syncproto"
)

// decodeJSON decodes a request body strictly: a member the call does not
// know is an error, and so is anything after the value.
func decodeJSON(data []byte, v any) error { return syncproto.UnmarshalStrict(data, v) }

// bodyBuffers hold request bodies while they are decoded: decoding from
// a whole body, not a stream, spares the decoder a buffer of its own for
// every request (under make bench, a third of a push's allocations).
// What is decoded never aliases the buffer (strings and raw JSON values
// are copies), so it goes back to the pool at the end of bind.
var bodyBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooledBody is the largest buffer kept for reuse; a rare larger body
// leaves its buffer to the collector.
const maxPooledBody = 4 << 20
