package syncproto

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"filippo.io/edwards25519"
)

// sealedChain is n sealed mutations of one device, in seq order.
func sealedChain(tb testing.TB, key ed25519.PrivateKey, n int) []Mutation {
	tb.Helper()
	ids := NewIDGenerator(nil)
	prev := ZeroHash
	ms := make([]Mutation, n)
	for i := range ms {
		ms[i] = Mutation{ID: ids.New().String(), DeviceID: "01JNM7Q8Z3X4Y5W6V7T8S9R0QP", Seq: int64(i + 1),
			Kind: MutationVoid, DeviceTime: time.Unix(1_800_000_000+int64(i), 0), PrevHash: prev,
			Payload: json.RawMessage(fmt.Sprintf(`{"reason":"%d"}`, i))}
		ms[i].Seal(key)
		prev = ms[i].Hash
	}
	return ms
}

// firstBadAlone is FirstBadSignature done one signature at a time
// (Check, VerifySignature): what the batch must agree with.
func firstBadAlone(pub ed25519.PublicKey, ms []Mutation) int {
	for i := range ms {
		if ms[i].Check(pub) != nil {
			return i
		}
	}
	return -1
}

func TestFirstBadSignature(t *testing.T) {
	t.Parallel()
	pub, key, _ := ed25519.GenerateKey(nil)
	otherPub, otherKey, _ := ed25519.GenerateKey(nil)
	sig := func(m *Mutation) []byte {
		b, _ := base64.StdEncoding.DecodeString(m.Signature)
		return b
	}
	setSig := func(m *Mutation, b []byte) { m.Signature = base64.StdEncoding.EncodeToString(b) }
	// Each fault spoils one mutation's signature and no other check.
	faults := map[string]func(m *Mutation){
		"FlippedS": func(m *Mutation) { b := sig(m); b[40] ^= 1; setSig(m, b) },
		"FlippedR": func(m *Mutation) { b := sig(m); b[3] ^= 1; setSig(m, b) },
		"OtherKey": func(m *Mutation) { m.Seal(otherKey) },
		"SOverL": func(m *Mutation) { // s+L: the same point, refused by RFC 8032
			b := sig(m)
			var l = [32]byte{0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
				0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10}
			var carry uint16
			for i := range 32 {
				v := uint16(b[32+i]) + uint16(l[i]) + carry
				b[32+i], carry = byte(v), v>>8
			}
			setSig(m, b)
		},
		"SignedOtherHash": func(m *Mutation) {
			other := sha512.Sum512([]byte(m.Hash))
			setSig(m, ed25519.Sign(key, other[:32]))
		},
		"Short":      func(m *Mutation) { setSig(m, sig(m)[:63]) },
		"Long":       func(m *Mutation) { setSig(m, append(sig(m), 0)) },
		"NotBase64":  func(m *Mutation) { m.Signature = "%" + m.Signature[1:] },
		"Empty":      func(m *Mutation) { m.Signature = "" },
		"HashNotHex": func(m *Mutation) { m.Hash = "zz" + m.Hash[2:] },
	}
	for _, n := range []int{1, 3, 4, 5, 40, 200} {
		t.Run(fmt.Sprintf("OKAllGood%d", n), func(t *testing.T) {
			t.Parallel()
			if got := FirstBadSignature(pub, sealedChain(t, key, n)); got != -1 {
				t.Fatalf("FirstBadSignature = %d, want -1", got)
			}
		})
		t.Run(fmt.Sprintf("ErrOtherDevicesKey%d", n), func(t *testing.T) {
			t.Parallel()
			if got := FirstBadSignature(otherPub, sealedChain(t, key, n)); got != 0 {
				t.Fatalf("FirstBadSignature = %d, want 0", got)
			}
		})
		for name, fault := range faults {
			t.Run(fmt.Sprintf("Err%s%d", name, n), func(t *testing.T) {
				t.Parallel()
				r := rand.New(rand.NewPCG(uint64(n), uint64(len(name))))
				ms := sealedChain(t, key, n)
				bad := r.IntN(n)
				fault(&ms[bad])
				if want := firstBadAlone(pub, ms); want != bad {
					t.Fatalf("the fault did not spoil mutation %d alone (crypto/ed25519 says %d)", bad, want)
				}
				if got := FirstBadSignature(pub, ms); got != bad {
					t.Fatalf("FirstBadSignature = %d, want %d", got, bad)
				}
				if n > 1 { // a second fault later on: the first is named
					second := bad + 1 + r.IntN(n-bad)
					if second < n {
						faults["FlippedS"](&ms[second])
						if got := FirstBadSignature(pub, ms); got != bad {
							t.Fatalf("with a second bad one at %d: FirstBadSignature = %d, want %d", second, got, bad)
						}
					}
				}
			})
		}
	}
	t.Run("ErrBadKey", func(t *testing.T) {
		t.Parallel()
		ms := sealedChain(t, key, 10)
		for _, k := range [][]byte{nil, pub[:31], bytes.Repeat([]byte{0xff}, 32)} {
			if got := FirstBadSignature(k, ms); got != 0 {
				t.Fatalf("key %x: FirstBadSignature = %d, want 0", k, got)
			}
		}
	})
}

// TestFirstBadSignatureAgrees: over random batches with random faults, the
// batch names the same mutation as checking each alone.
func TestFirstBadSignatureAgrees(t *testing.T) {
	t.Parallel()
	pub, key, _ := ed25519.GenerateKey(nil)
	_, otherKey, _ := ed25519.GenerateKey(nil)
	base := sealedChain(t, key, 64)
	r := rand.New(rand.NewPCG(8, 26))
	for round := range 300 {
		n := 1 + r.IntN(len(base))
		ms := append([]Mutation(nil), base[:n]...)
		for range r.IntN(3) {
			m := &ms[r.IntN(n)]
			switch r.IntN(3) {
			case 0:
				b, _ := base64.StdEncoding.DecodeString(m.Signature)
				b[r.IntN(64)] ^= byte(1 << r.IntN(8))
				m.Signature = base64.StdEncoding.EncodeToString(b)
			case 1:
				m.Seal(otherKey)
			case 2: // another record's signature
				m.Signature = base[r.IntN(len(base))].Signature
			}
		}
		if got, want := FirstBadSignature(pub, ms), firstBadAlone(pub, ms); got != want {
			t.Fatalf("round %d (%d mutations): FirstBadSignature = %d, one by one = %d", round, n, got, want)
		}
	}
}

// TestFirstBadSignatureSmallOrderR: a signature whose R carries a
// small-order component, which only the key's holder can make, is
// accepted alone and in a batch alike (the cofactored rule of
// VerifySignature), though crypto/ed25519 refuses it.
func TestFirstBadSignatureSmallOrderR(t *testing.T) {
	t.Parallel()
	pub, key, _ := ed25519.GenerateKey(nil)
	ms := sealedChain(t, key, 8)
	m := &ms[5]
	h := sha512.Sum512(key.Seed())
	a, err := new(edwards25519.Scalar).SetBytesWithClamping(h[:32])
	if err != nil {
		t.Fatal(err)
	}
	var nonce [64]byte
	nonce[0] = 7
	r, _ := new(edwards25519.Scalar).SetUniformBytes(nonce[:])
	// T = (0, -1), of order 2.
	tEnc, _ := hex.DecodeString("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f")
	torsion, err := new(edwards25519.Point).SetBytes(tEnc)
	if err != nil {
		t.Fatal(err)
	}
	rPoint := new(edwards25519.Point).ScalarBaseMult(r)
	rPoint.Add(rPoint, torsion)
	msg, _ := hex.DecodeString(m.Hash)
	d := sha512.New()
	d.Write(rPoint.Bytes())
	d.Write(pub)
	d.Write(msg)
	k, _ := new(edwards25519.Scalar).SetUniformBytes(d.Sum(nil))
	s := new(edwards25519.Scalar).MultiplyAdd(k, a, r)
	sig := append(rPoint.Bytes(), s.Bytes()...)
	m.Signature = base64.StdEncoding.EncodeToString(sig)
	if ed25519.Verify(pub, msg, sig) {
		t.Fatal("crypto/ed25519 accepts the small-order R: the test does not make what it means to")
	}
	if !VerifySignature(pub, msg, sig) || m.Check(pub) != nil {
		t.Fatal("VerifySignature refuses a signature the cofactored equation holds for")
	}
	for _, batch := range [][]Mutation{ms, ms[4:6], ms[5:6]} {
		if got := FirstBadSignature(pub, batch); got != -1 {
			t.Fatalf("batch of %d: FirstBadSignature = %d, want -1", len(batch), got)
		}
	}
	// With a bad one beside it, the bad one is named, not this one.
	ms[6].Signature = ms[2].Signature
	if got := FirstBadSignature(pub, ms); got != 6 {
		t.Fatalf("FirstBadSignature = %d, want 6", got)
	}
}

// TestVerifySignatureAgreesWithStd: on signatures a standard signer made,
// and on any bit of them, the message or the key flipped, VerifySignature
// says what crypto/ed25519 says.
func TestVerifySignatureAgreesWithStd(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(9, 10))
	for round := range 1500 {
		pub, key, _ := ed25519.GenerateKey(nil)
		msg := make([]byte, 32)
		for i := range msg {
			msg[i] = byte(r.UintN(256))
		}
		sig := ed25519.Sign(key, msg)
		p := slices.Clone(pub)
		switch r.IntN(4) {
		case 1:
			sig[r.IntN(64)] ^= byte(1 << r.IntN(8))
		case 2:
			msg[r.IntN(32)] ^= byte(1 << r.IntN(8))
		case 3:
			p[r.IntN(32)] ^= byte(1 << r.IntN(8))
		}
		if got, want := VerifySignature(p, msg, sig), ed25519.Verify(p, msg, sig); got != want {
			t.Fatalf("round %d: VerifySignature = %v, crypto/ed25519 = %v", round, got, want)
		}
	}
	pub, key, _ := ed25519.GenerateKey(nil)
	sig := ed25519.Sign(key, []byte("m"))
	for _, bad := range [][]byte{nil, sig[:63], append(slices.Clone(sig), 0)} {
		if VerifySignature(pub, []byte("m"), bad) {
			t.Fatalf("accepted a %d-byte signature", len(bad))
		}
	}
	if VerifySignature(pub[:31], []byte("m"), sig) {
		t.Fatal("accepted a 31-byte key")
	}
}

// TestCanonicalPoint compares the byte test with decoding and encoding
// again, on the edge encodings and on random ones.
func TestCanonicalPoint(t *testing.T) {
	t.Parallel()
	enc := func(s string) []byte { b, _ := hex.DecodeString(s); return b }
	var cases [][]byte
	for _, s := range []string{
		"0100000000000000000000000000000000000000000000000000000000000000", // y = 1 (identity)
		"0100000000000000000000000000000000000000000000000000000000000080", // y = 1, sign bit
		"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // y = p-1
		"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", // y = p-1, sign bit
		"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // y = p
		"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // y = p+1
		"efffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", // y = p+2, sign bit
		"0000000000000000000000000000000000000000000000000000000000000000", // y = 0
		"0000000000000000000000000000000000000000000000000000000000000080", // y = 0, sign bit
		"0100000000000000000000000000000000000000000000000000000000000180", // y = 1 + 2^240, sign bit
	} {
		cases = append(cases, enc(s))
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		b := make([]byte, 32)
		for i := range b {
			b[i] = byte(r.UintN(256))
		}
		cases = append(cases, b)
	}
	for i := range 19 { // every y in [p, 2^255): small y + p
		b := bytes.Repeat([]byte{0xff}, 32)
		b[0], b[31] = 0xed+byte(i), 0x7f
		cases = append(cases, b, append(b[:31:31], 0xff))
	}
	decoded := 0
	for _, b := range cases {
		p, err := new(edwards25519.Point).SetBytes(b)
		if err != nil {
			continue
		}
		decoded++
		want := bytes.Equal(p.Bytes(), b)
		if got := canonicalPoint(b); got != want {
			t.Errorf("canonicalPoint(%x) = %v, want %v", b, got, want)
		}
	}
	if decoded < 900 {
		t.Fatalf("only %d encodings decoded: the test checks too little", decoded)
	}
}

// BenchmarkFirstBadSignature compares the batch with one VerifySignature
// per signature, for a push of 200.
func BenchmarkFirstBadSignature(b *testing.B) {
	pub, key, _ := ed25519.GenerateKey(nil)
	ms := sealedChain(b, key, 200)
	b.Run("Batch", func(b *testing.B) {
		for b.Loop() {
			if FirstBadSignature(pub, ms) != -1 {
				b.Fatal("bad")
			}
		}
	})
	b.Run("OneByOne", func(b *testing.B) {
		for b.Loop() {
			for i := range ms {
				if !ms[i].signedBy(pub) {
					b.Fatal("bad")
				}
			}
		}
	})
}
