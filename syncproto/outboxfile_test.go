package syncproto_test

import (
	"crypto/ed25519"
	"encoding/json"
	"testing"
	"time"

	"villagesync/syncproto"
)

func TestOutboxFileVerify(t *testing.T) {
	t.Parallel()
	pub, key, _ := ed25519.GenerateKey(nil)
	otherPub, _, _ := ed25519.GenerateKey(nil)
	const device = "01JNM7Q8Z3X4Y5W6V7T8S9R0QP"
	ids := syncproto.NewIDGenerator(nil)
	chain := func() []syncproto.Mutation {
		var ms []syncproto.Mutation
		prev := syncproto.ZeroHash
		for i := int64(1); i <= 3; i++ {
			m := syncproto.Mutation{ID: ids.New().String(), DeviceID: device, Seq: i, Kind: syncproto.MutationVoid,
				DeviceTime: time.Unix(1_800_000_000+i, 0), PrevHash: prev, Payload: json.RawMessage(`{"reason":"x"}`)}
			m.Seal(key)
			prev = m.Hash
			ms = append(ms, m)
		}
		return ms
	}
	for _, tc := range []struct {
		name string
		edit func(f *syncproto.OutboxFile)
		pub  ed25519.PublicKey
		code syncproto.Code
	}{
		{"OK", func(*syncproto.OutboxFile) {}, nil, ""},
		{"OKEnrolledKey", func(*syncproto.OutboxFile) {}, pub, ""},
		{"ErrOtherKey", func(*syncproto.OutboxFile) {}, otherPub, syncproto.CodeBadSignature},
		{"ErrGap", func(f *syncproto.OutboxFile) { f.Mutations = append(f.Mutations[:1], f.Mutations[2]) }, nil, syncproto.CodeChainGap},
		{"ErrEdited", func(f *syncproto.OutboxFile) { f.Mutations[1].Payload = json.RawMessage(`{"reason":"y"}`) }, nil, syncproto.CodeChainBroken},
		{"ErrReordered", func(f *syncproto.OutboxFile) {
			f.Mutations[1], f.Mutations[2] = f.Mutations[2], f.Mutations[1]
		}, nil, syncproto.CodeChainGap},
		{"ErrOtherDevice", func(f *syncproto.OutboxFile) { f.DeviceID = "01JNM7Q8Z3X4Y5W6V7T8S9R0QQ" }, nil, syncproto.CodeInvalidInput},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := syncproto.OutboxFile{DeviceID: device, PublicKey: pub, Mutations: chain()}
			tc.edit(&f)
			err := f.Verify(tc.pub)
			if tc.code == "" && err != nil || tc.code != "" && syncproto.ErrorCode(err) != tc.code {
				t.Fatalf("Verify = %v, want %q", err, tc.code)
			}
		})
	}
}
