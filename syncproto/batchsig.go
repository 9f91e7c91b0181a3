package syncproto

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"

	"filippo.io/edwards25519"
)

// batchMin is the smallest number of signatures checked as a batch: below
// it one double-scalar multiplication each is as cheap.
const batchMin = 4

// FirstBadSignature checks the signatures of ms, all made by the one
// device key pub, and returns the index of the first mutation whose
// signature does not verify, or -1 when all do. It checks signatures
// only: call CheckContent on each mutation first.
//
// The signatures are checked together with the batch equation (Bernstein
// et al., "High-speed high-security signatures", 2012, §5):
//
//	[8]([-Σ zᵢsᵢ]B + Σ [zᵢ]Rᵢ + [Σ zᵢkᵢ]A) = 0
//
// with each zᵢ a fresh random 128-bit scalar from crypto/rand, which the
// signer cannot know in advance: a batch holding a bad signature passes
// with probability 2⁻¹²⁸. As every signature is by the same key, the A
// terms collapse into one, so a push of n records costs one multi-scalar
// multiplication of n+2 points instead of n double-scalar
// multiplications: a push of 200 takes 2.6 ms instead of 11–12 ms
// (BenchmarkFirstBadSignature). When the batch fails, each signature is
// checked alone with VerifySignature to name the first bad one. The batch
// accepts exactly the signatures VerifySignature accepts (see there), so
// whether a record is accepted never depends on the records sent with it.
func FirstBadSignature(pub ed25519.PublicKey, ms []Mutation) int {
	if len(ms) == 0 {
		return -1
	}
	if len(ms) >= batchMin && batchOK(pub, ms) {
		return -1
	}
	for i := range ms {
		m := &ms[i]
		if !m.signedBy(pub) {
			return i
		}
	}
	return -1
}

// VerifySignature reports whether sig is pub's Ed25519 signature of msg,
// by the cofactored equation [8][s]B = [8]R + [8][k]A (RFC 8032 §5.1.7
// allows it; ZIP 215 chose it for the same reason, but ZIP 215 also takes
// non-canonical encodings), with R canonically encoded and s reduced. It accepts every signature crypto/ed25519
// accepts, so every signature a standard Ed25519 signer makes; it also
// accepts one whose R carries a small-order component, which
// crypto/ed25519 refuses and only the key's holder can make. The protocol
// takes this rule, not crypto/ed25519's, because a batch can only check
// the cofactored equation: one rule for a record alone and in a batch.
func VerifySignature(pub ed25519.PublicKey, msg, sig []byte) bool {
	if len(pub) != ed25519.PublicKeySize || len(sig) != ed25519.SignatureSize || !canonicalPoint(sig[:32]) {
		return false
	}
	a, err := new(edwards25519.Point).SetBytes(pub)
	if err != nil {
		return false
	}
	r, err := new(edwards25519.Point).SetBytes(sig[:32])
	if err != nil {
		return false
	}
	s, err := new(edwards25519.Scalar).SetCanonicalBytes(sig[32:])
	if err != nil {
		return false
	}
	h := sha512.New()
	h.Write(sig[:32])
	h.Write(pub)
	h.Write(msg)
	k, err := new(edwards25519.Scalar).SetUniformBytes(h.Sum(nil))
	if err != nil {
		return false
	}
	// [s]B - [k]A - R, times the cofactor, is the identity.
	check := new(edwards25519.Point).VarTimeDoubleScalarBaseMult(k, new(edwards25519.Point).Negate(a), s)
	check.Subtract(check, r)
	check.MultByCofactor(check)
	return check.Equal(edwards25519.NewIdentityPoint()) == 1
}

// batchOK reports whether the batch equation holds for every signature of
// ms; false also for any signature or key that cannot be decoded.
func batchOK(pub ed25519.PublicKey, ms []Mutation) bool {
	if len(pub) != ed25519.PublicKeySize {
		return false
	}
	a, err := new(edwards25519.Point).SetBytes(pub)
	if err != nil {
		return false
	}
	n := len(ms)
	zs := make([]byte, 16*n)
	if _, err := rand.Read(zs); err != nil {
		return false
	}
	scalarVals, pointVals := make([]edwards25519.Scalar, n+2), make([]edwards25519.Point, n+2)
	scalars, points := make([]*edwards25519.Scalar, n+2), make([]*edwards25519.Point, n+2)
	for i := range scalars {
		scalars[i], points[i] = &scalarVals[i], &pointVals[i]
	}
	bCoeff, aCoeff := scalars[0], scalars[1]
	points[0].Set(edwards25519.NewGeneratorPoint())
	points[1].Set(a)
	var (
		sig    [66]byte // room for the padding of a too-short encoding
		msg    [32]byte
		zBytes [32]byte
		digest [sha512.Size]byte
		s, k   edwards25519.Scalar
	)
	h := sha512.New()
	for i := range ms {
		m := &ms[i]
		if len(m.Signature) != base64.StdEncoding.EncodedLen(ed25519.SignatureSize) || len(m.Hash) != hex.EncodedLen(len(msg)) {
			return false
		}
		if got, err := base64.StdEncoding.Decode(sig[:], []byte(m.Signature)); err != nil || got != ed25519.SignatureSize {
			return false
		}
		if _, err := hex.Decode(msg[:], []byte(m.Hash)); err != nil {
			return false
		}
		r := sig[:32]
		if !canonicalPoint(r) {
			return false
		}
		if _, err := points[i+2].SetBytes(r); err != nil {
			return false
		}
		if _, err := s.SetCanonicalBytes(sig[32:64]); err != nil {
			return false
		}
		copy(zBytes[:16], zs[16*i:16*i+16])
		z := scalars[i+2]
		if _, err := z.SetCanonicalBytes(zBytes[:]); err != nil {
			return false
		}
		h.Reset()
		h.Write(r)
		h.Write(pub)
		h.Write(msg[:])
		if _, err := k.SetUniformBytes(h.Sum(digest[:0])); err != nil {
			return false
		}
		bCoeff.MultiplyAdd(z, &s, bCoeff)
		aCoeff.MultiplyAdd(z, &k, aCoeff)
	}
	bCoeff.Negate(bCoeff)
	check := new(edwards25519.Point).VarTimeMultiScalarMult(scalars, points)
	check.MultByCofactor(check)
	return check.Equal(edwards25519.NewIdentityPoint()) == 1
}

// canonicalPoint reports whether b (32 bytes) is written the one way RFC
// 8032 §5.1.2 writes a point: its y below p = 2²⁵⁵-19, and no sign bit
// when x is 0 (y = 1 or y = p-1). crypto/ed25519 compares R byte for byte
// with a point it encodes, so it refuses any other way of writing R;
// edwards25519's decoder accepts them.
func canonicalPoint(b []byte) bool {
	if len(b) != 32 {
		return false
	}
	top := b[31] & 0x7f
	signed := b[31]&0x80 != 0
	middleFF := true
	for _, c := range b[1:31] {
		if c != 0xff {
			middleFF = false
			break
		}
	}
	if top == 0x7f && middleFF && b[0] >= 0xed {
		return false // y ≥ p
	}
	if !signed {
		return true
	}
	if top == 0x7f && middleFF && b[0] == 0xec {
		return false // y = p-1, x = 0, sign bit set
	}
	if b[0] == 1 && top == 0 {
		for _, c := range b[1:31] {
			if c != 0 {
				return true
			}
		}
		return false // y = 1, x = 0, sign bit set
	}
	return true
}
