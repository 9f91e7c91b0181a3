package auth

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"villagesync/syncproto"
)

// AccessTTL is the lifetime of an access token.
const AccessTTL = 15 * time.Minute

const (
	issuer   = "villagesync"
	audience = "villagesync-api"
)

// claims is the access token's body.
type claims struct {
	jwt.RegisteredClaims
	Name     string   `json:"name"`
	Role     Role     `json:"role"`
	Township string   `json:"twp,omitempty"`
	Villages []string `json:"vil,omitempty"`
	Device   string   `json:"dev,omitempty"`
}

// Tokens signs and verifies access tokens with an Ed25519 key. The
// signing method is pinned when verifying: "none", HMAC or any other
// algorithm is refused, whatever the token's header says.
type Tokens struct {
	key    ed25519.PrivateKey
	now    func() time.Time
	parser *jwt.Parser
}

// NewTokens returns a signer/verifier for key.
func NewTokens(key ed25519.PrivateKey, now func() time.Time) *Tokens {
	return &Tokens{key: key, now: now, parser: jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodEdDSA.Alg()}),
		jwt.WithIssuer(issuer), jwt.WithAudience(audience),
		jwt.WithExpirationRequired(), jwt.WithIssuedAt(),
		jwt.WithTimeFunc(now), jwt.WithLeeway(30*time.Second),
	)}
}

// Issue signs an access token for p, valid for AccessTTL.
func (t *Tokens) Issue(p Principal, id string) (string, time.Time, error) {
	now := t.now()
	exp := now.Add(AccessTTL)
	c := claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: issuer, Audience: jwt.ClaimStrings{audience}, Subject: p.UserID, ID: id,
			IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(exp),
		},
		Name: p.Username, Role: p.Role, Township: p.Township, Villages: p.Villages, Device: p.DeviceID,
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodEdDSA, c).SignedString(t.key)
	return s, exp, err
}

// ErrBadToken is the answer to a missing, malformed, tampered, expired or
// wrongly signed access token. The reason is not told to the caller.
var ErrBadToken = syncproto.Errorf(syncproto.CodeUnauthenticated,
	"missing, invalid or expired access token", "登录凭证缺失、无效或已过期，请重新登录")

// Verify checks an access token and returns its principal.
func (t *Tokens) Verify(token string) (Principal, error) {
	var c claims
	_, err := t.parser.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) {
		return t.key.Public(), nil
	})
	if err != nil {
		return Principal{}, syncproto.Wrap(err, ErrBadToken.Code, ErrBadToken.Message, ErrBadToken.MessageZH)
	}
	if c.Subject == "" || !c.Role.Valid() {
		return Principal{}, ErrBadToken
	}
	return Principal{UserID: c.Subject, Username: c.Name, Role: c.Role, Township: c.Township,
		Villages: c.Villages, DeviceID: c.Device}, nil
}

// LoadKey reads an Ed25519 private key from PEM (PKCS #8).
func LoadKey(pemBytes []byte) (ed25519.PrivateKey, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		return nil, errors.New("auth: signing key: no PEM block")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("auth: signing key: %w", err)
	}
	ek, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("auth: signing key is %T, want Ed25519", k)
	}
	return ek, nil
}

// LoadOrCreateKeyFile reads the key at path, generating and writing a new
// one (mode 0600) when the file does not exist. `make run` uses it for
// .data/jwt-ed25519.pem.
func LoadOrCreateKeyFile(path string) (ed25519.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		return LoadKey(b)
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, err
	}
	if err := pem.Encode(f, &pem.Block{Type: "PRIVATE KEY", Bytes: der}); err != nil {
		f.Close()
		return nil, err
	}
	return key, f.Close()
}

// newOpaque returns a random opaque token with a prefix and its SHA-256.
func newOpaque(prefix string) (string, []byte) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err))
	}
	s := prefix + base64.RawURLEncoding.EncodeToString(b[:])
	return s, hashSecret(s)
}

func hashSecret(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}
