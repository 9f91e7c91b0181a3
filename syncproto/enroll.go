package syncproto

// TokenPair is what a login, a refresh or an enrollment returns.
type TokenPair struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"` // seconds
}

// EnrollRequest is what a tablet sends to POST /api/v1/devices/enroll.
type EnrollRequest struct {
	Code       string `json:"code"`
	DeviceName string `json:"device_name"`
	PublicKey  []byte `json:"public_key"` // Ed25519, base64 in JSON
}

// Enrollment is what an enrolled tablet receives: its identity, its
// credentials and its scope.
type Enrollment struct {
	DeviceID     string   `json:"device_id"`
	AgentID      string   `json:"agent_id"`
	AgentName    string   `json:"agent_username"`
	DisplayName  string   `json:"agent_display_name"`
	TownshipCode string   `json:"township_code"`
	Villages     []string `json:"villages"`
	TokenPair
}

// ErrorBody is the JSON shape of every error answer of the server.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is a stable code plus messages for people.
type ErrorDetail struct {
	Code      Code   `json:"code"`
	Message   string `json:"message"`
	MessageZH string `json:"message_zh"`
}
