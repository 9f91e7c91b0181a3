package syncproto

import (
	"errors"
	"fmt"
)

// Code is a stable, snake_case error code. Clients branch on it; the
// messages beside it are for people and may change.
type Code string

// The coded errors shared by both sides. HTTP status mapping lives in the
// server's api package; a code means the same thing everywhere.
const (
	CodeInvalidInput     Code = "invalid_input"
	CodeNotFound         Code = "not_found"
	CodeConflict         Code = "conflict"
	CodeUnauthenticated  Code = "unauthenticated"
	CodeForbidden        Code = "forbidden"
	CodeTooLarge         Code = "request_too_large"
	CodeRateLimited      Code = "rate_limited"
	CodeUnavailable      Code = "unavailable"
	CodeSchemaTooNew     Code = "schema_too_new"
	CodeSchemaBehind     Code = "schema_behind"
	CodeProtocolVersion  Code = "unsupported_protocol_version"
	CodeInternal         Code = "internal"
	CodeInvalidMoney     Code = "invalid_money"
	CodeInvalidID        Code = "invalid_resident_id"
	CodeInvalidKind      Code = "invalid_kind"
	CodeInvalidCategory  Code = "invalid_category"
	CodeInvalidULID      Code = "invalid_ulid"
	CodeMethodNotAllowed Code = "method_not_allowed"

	// CodeDeviceRevoked answers every call of a revoked tablet: it must be
	// enrolled again.
	CodeDeviceRevoked Code = "device_revoked"
	// CodeRefreshReused answers a refresh token presented twice: its whole
	// family has been revoked.
	CodeRefreshReused Code = "refresh_token_reused"
	// CodeEnrollmentCodeInvalid answers an unknown, used or expired
	// enrollment code.
	CodeEnrollmentCodeInvalid Code = "enrollment_code_invalid"
)

// Error is a coded error with an English and a Chinese message. Err, when
// set, is the underlying cause and is never shown to users.
type Error struct {
	Code      Code
	Message   string
	MessageZH string
	Err       error
}

// Errorf returns a coded error; message and messageZH are plain text.
func Errorf(code Code, message, messageZH string) *Error {
	return &Error{Code: code, Message: message, MessageZH: messageZH}
}

// Wrap returns a coded error that keeps err as its cause.
func Wrap(err error, code Code, message, messageZH string) *Error {
	return &Error{Code: code, Message: message, MessageZH: messageZH, Err: err}
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// ErrorCode returns the code of the first coded error in err's chain, or
// CodeInternal when there is none.
func ErrorCode(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}
