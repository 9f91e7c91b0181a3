package syncproto

import (
	jsonv2 "github.com/go-json-experiment/json"
	jsonv1 "github.com/go-json-experiment/json/v1"
)

// strictJSON is encoding/json's behaviour (go-json-experiment's v1
// options, on the v2 engine) with unknown members refused.
var strictJSON = jsonv2.JoinOptions(jsonv1.DefaultOptionsV1(), jsonv2.RejectUnknownMembers(true))

// UnmarshalStrict decodes data, one JSON value, into v strictly: a
// member v's type does not know is an error, and so is anything after
// the value. The server decodes request bodies and the records' payloads
// with it. It unmarshals the whole value at once, not through a
// json.Decoder, which costs a buffer and a few allocations more for each
// call (a push decodes 200 payloads).
func UnmarshalStrict(data []byte, v any) error { return jsonv2.Unmarshal(data, v, strictJSON) }
