package auth

import (
	"crypto/rand"
	"encoding/base32"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/alexedwards/argon2id"

	"villagesync/syncproto"
)

// PasswordParams are the argon2id parameters for new password hashes.
// Verification reads the parameters stored in each hash, so they can be
// raised later without invalidating old hashes.
type PasswordParams = argon2id.Params

// DefaultPasswordParams follow RFC 9106's second recommendation scaled to
// a 2-core server: 64 MiB, 1 pass, 2 lanes (about 50 ms a hash).
var DefaultPasswordParams = argon2id.Params{Memory: 64 * 1024, Iterations: 1, Parallelism: 2, SaltLength: 16, KeyLength: 32}

// Passwords hashes and verifies passwords.
type Passwords struct {
	params PasswordParams
	dummy  string // a hash to verify against when the user does not exist
}

// NewPasswords returns a hasher with params.
func NewPasswords(params PasswordParams) (*Passwords, error) {
	dummy, err := argon2id.CreateHash("no such user: equal work", &params)
	if err != nil {
		return nil, err
	}
	return &Passwords{params: params, dummy: dummy}, nil
}

// Hash hashes a password with a fresh random salt.
func (p *Passwords) Hash(password string) (string, error) {
	return argon2id.CreateHash(password, &p.params)
}

// Verify reports whether password matches hash. An empty hash is checked
// against a dummy so that an unknown user costs the same time.
func (p *Passwords) Verify(password, hash string) bool {
	if hash == "" {
		_, _ = argon2id.ComparePasswordAndHash(password, p.dummy)
		return false
	}
	ok, err := argon2id.ComparePasswordAndHash(password, hash)
	return err == nil && ok
}

// CheckPasswordPolicy refuses passwords that are too short or too long.
func CheckPasswordPolicy(pw string) error {
	n := utf8.RuneCountInString(pw)
	if n < 10 || len(pw) > 256 {
		return syncproto.Errorf(syncproto.CodeInvalidInput,
			"password must be 10 to 256 characters", "密码长度须为 10 至 256 个字符")
	}
	return nil
}

// RandomPassword returns a readable random password (for demo users and
// resets): 16 characters of base32 in groups.
func RandomPassword() string {
	var b [10]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err))
	}
	s := strings.ToLower(base32.StdEncoding.EncodeToString(b[:]))
	return s[:4] + "-" + s[4:8] + "-" + s[8:12] + "-" + s[12:16]
}
