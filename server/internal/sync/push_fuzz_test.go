package sync

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"villagesync/syncproto"
)

// fuzzKey is the device key of the fuzz seeds: fixed, so that the
// committed corpus carries good signatures.
var fuzzKey = ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))

// fuzzDevice is the device of the fuzz seeds.
const fuzzDevice = "01KAB0000000000000000DEV01"

// sealedPush is a push body of well-formed, chained, signed mutations
// with the given kinds and payloads, as a tablet sends it.
func sealedPush(tb testing.TB, kinds []syncproto.MutationKind, payloads []string) []byte {
	tb.Helper()
	prev := syncproto.ZeroHash
	var req syncproto.PushRequest
	for i, k := range kinds {
		m := syncproto.Mutation{ID: "01KAB00000000000000000000" + strconv.Itoa(i), DeviceID: fuzzDevice, Seq: int64(i + 1),
			Kind: k, DeviceTime: time.Date(2026, 11, 20, 2, 0, 0, int(i)*1e6, time.UTC), PrevHash: prev,
			Payload: json.RawMessage(payloads[i])}
		m.Seal(fuzzKey)
		prev = m.Hash
		req.Mutations = append(req.Mutations, m)
	}
	b, err := json.Marshal(req)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// pushSeeds are the seeds of FuzzPushBody (also committed under
// testdata/fuzz/FuzzPushBody): a good push of each kind, and the
// malformed shapes the decoder must turn into rejections.
func pushSeeds(tb testing.TB) [][]byte {
	col := `{"receipt_no":"000000000201","roster_entry_id":"RL1","roster_version":3,"name":"张三","village_code":"370403001201","kind":"medical","year":2026,"category":"general","grade":0,"amount":40000}`
	void := `{"collection_id":"01KAB000000000000000000000","receipt_no":"000000000201","reason":"录错了"}`
	dep := `{"slip_no":"B001","amount":40000,"deposited_at":"2026-11-20T08:00:00Z","count":1,"sum":40000,"chain_head":"` + syncproto.ZeroHash + `"}`
	return [][]byte{
		sealedPush(tb, []syncproto.MutationKind{syncproto.MutationCollection, syncproto.MutationVoid, syncproto.MutationDeposit},
			[]string{col, void, dep}),
		sealedPush(tb, []syncproto.MutationKind{syncproto.MutationCollection}, []string{strings.Replace(col, `"grade":0`, `"grade":0,"extra":1`, 1)}),
		sealedPush(tb, []syncproto.MutationKind{syncproto.MutationCollection}, []string{strings.Replace(col, `"amount":40000`, `"amount":-1`, 1)}),
		sealedPush(tb, []syncproto.MutationKind{syncproto.MutationCollection}, []string{strings.Replace(col, `"amount":40000`, `"amount":400.5`, 1)}),
		sealedPush(tb, []syncproto.MutationKind{"refund"}, []string{`{}`}),
		sealedPush(tb, []syncproto.MutationKind{syncproto.MutationVoid}, []string{`null`}),
		sealedPush(tb, []syncproto.MutationKind{syncproto.MutationDeposit}, []string{`[1,2]`}),
		[]byte(`{"mutations":[]}`),
		[]byte(`{"mutations":[{"id":"x","seq":-1,"payload":{}}]}`),
		[]byte(`{"mutations":null,"unknown":true}`),
	}
}

// FuzzPushBody feeds arbitrary bodies to the server's push decoding, the
// part that needs no database: the body decoded as the API binds it
// (strict JSON), then each mutation checked on its own (shape, hash,
// signature) and its payload decoded and validated. Nothing may panic;
// a mutation that passes Check must hash to its Hash; a payload that
// decode accepts must be complete and carry only known fields, and an
// error must be one of the codes a push answers with.
func FuzzPushBody(f *testing.F) {
	for _, s := range pushSeeds(f) {
		f.Add(s)
	}
	pub := fuzzKey.Public().(ed25519.PublicKey)
	f.Fuzz(func(t *testing.T, body []byte) {
		var req syncproto.PushRequest
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if dec.Decode(&req) != nil {
			return // the API answers 400 invalid_input
		}
		for _, m := range req.Mutations {
			if err := m.Check(pub); err == nil {
				if m.ComputeHash() != m.Hash || m.Seq < 1 {
					t.Fatalf("Check passed a mutation whose hash or seq is wrong: %+v", m)
				}
			} else {
				var pe *syncproto.Error
				if !errors.As(err, &pe) {
					t.Fatalf("Check returned an uncoded error: %v", err)
				}
				switch pe.Code {
				case syncproto.CodeInvalidInput, syncproto.CodeInvalidULID, syncproto.CodeChainBroken, syncproto.CodeBadSignature:
				default:
					t.Fatalf("Check returned code %s", pe.Code)
				}
			}
			checkDecoded(t, m)
		}
	})
}

// FuzzDecodePayload feeds arbitrary payloads of each kind to decode, the
// payload check of a push (a payload reaches it as one JSON value: the
// body around it was decoded).
func FuzzDecodePayload(f *testing.F) {
	for _, s := range pushSeeds(f) {
		var req syncproto.PushRequest
		if json.Unmarshal(s, &req) == nil {
			for _, m := range req.Mutations {
				f.Add(string(m.Kind), []byte(m.Payload))
			}
		}
	}
	f.Fuzz(func(t *testing.T, kind string, payload []byte) {
		if !json.Valid(payload) {
			return
		}
		checkDecoded(t, syncproto.Mutation{Kind: syncproto.MutationKind(kind), Payload: payload})
	})
}

// checkDecoded decodes m's payload and checks what decode promises.
func checkDecoded(t *testing.T, m syncproto.Mutation) {
	t.Helper()
	d := decode(m)
	if !reflect.DeepEqual(d, decode(m)) {
		t.Fatalf("decode is not deterministic for %q", m.Payload)
	}
	if d.reject != nil {
		if d.reject.Code != syncproto.CodeInvalidInput || d.reject.Message == "" || d.reject.MessageZH == "" {
			t.Fatalf("rejection without code or messages: %+v", d.reject)
		}
		return
	}
	var v any
	switch m.Kind {
	case syncproto.MutationCollection:
		c := d.collection
		if c == nil || d.void != nil || d.deposit != nil {
			t.Fatalf("collection decoded as %+v", d)
		}
		if _, err := strconv.ParseInt(c.ReceiptNo, 10, 64); err != nil || c.RosterEntryID == "" || c.Amount < 0 || c.Grade < 0 || !c.Kind.Valid() {
			t.Fatalf("incomplete collection accepted: %+v", c)
		}
		v = c
	case syncproto.MutationVoid:
		if d.void == nil || d.collection != nil || d.deposit != nil || d.void.CollectionID == "" || strings.TrimSpace(d.void.Reason) == "" {
			t.Fatalf("incomplete void accepted: %+v", d)
		}
		v = d.void
	case syncproto.MutationDeposit:
		if d.deposit == nil || d.collection != nil || d.void != nil || strings.TrimSpace(d.deposit.SlipNo) == "" || d.deposit.Amount < 0 {
			t.Fatalf("incomplete deposit accepted: %+v", d)
		}
		v = d.deposit
	default:
		t.Fatalf("unknown kind %q accepted", m.Kind)
	}
	// Strict: every field of an accepted payload is one the kind has.
	var fields map[string]json.RawMessage
	if json.Unmarshal(m.Payload, &fields) != nil {
		t.Fatalf("accepted payload is not an object: %q", m.Payload)
	}
	known := reflect.TypeOf(v).Elem()
	for k := range fields {
		found := false
		for i := range known.NumField() {
			tag, _, _ := strings.Cut(known.Field(i).Tag.Get("json"), ",")
			found = found || strings.EqualFold(tag, k)
		}
		if !found {
			t.Fatalf("accepted payload with unknown field %q: %q", k, m.Payload)
		}
	}
}

// TestPushSeeds pins what the fuzz seeds are: a push whose three records
// pass every check, and single records that decode must reject.
func TestPushSeeds(t *testing.T) {
	seeds := pushSeeds(t)
	pub := fuzzKey.Public().(ed25519.PublicKey)
	for i, s := range seeds[:7] {
		var req syncproto.PushRequest
		dec := json.NewDecoder(bytes.NewReader(s))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			t.Fatalf("seed %d: %v", i, err)
		}
		for _, m := range req.Mutations {
			if err := m.Check(pub); err != nil {
				t.Fatalf("seed %d, mutation %d: %v", i, m.Seq, err)
			}
			if d := decode(m); (d.reject == nil) != (i == 0) {
				t.Errorf("seed %d, mutation %d (%s): rejection %v", i, m.Seq, m.Kind, d.reject)
			}
		}
	}
}
