package fleet

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"villagesync/syncproto"
)

// CodeSource gives the one-time enrollment code for tablet index. Codes
// are minted by township (or admin) staff: Staff.Codes is one source.
type CodeSource func(ctx context.Context, index int) (string, error)

// Staff is a signed-in township or admin user of the server's API, for
// what a fleet needs around it: agents and their enrollment codes.
type Staff struct {
	ServerURL string
	Token     string // access token
	HTTP      *http.Client
}

// Login signs in as a township or admin user.
func Login(ctx context.Context, serverURL, username, password string) (*Staff, error) {
	s := &Staff{ServerURL: strings.TrimRight(serverURL, "/"), HTTP: &http.Client{Timeout: 60 * time.Second}}
	var pair syncproto.TokenPair
	if err := s.post(ctx, "/api/v1/auth/login", map[string]string{"username": username, "password": password}, &pair); err != nil {
		return nil, fmt.Errorf("fleet: login %s: %w", username, err)
	}
	s.Token = pair.AccessToken
	return s, nil
}

// CreateAgent creates an agent user of the given villages of township
// and returns its user ID.
func (s *Staff) CreateAgent(ctx context.Context, username, township string, villages []string) (string, error) {
	var u struct {
		ID string `json:"id"`
	}
	err := s.post(ctx, "/api/v1/users", map[string]any{"username": username, "role": "agent",
		"township_code": township, "villages": villages, "password": "fleet agent password " + username}, &u)
	if err != nil {
		return "", fmt.Errorf("fleet: create agent %s: %w", username, err)
	}
	return u.ID, nil
}

// EnrollmentCode mints a one-time enrollment code for agentID.
func (s *Staff) EnrollmentCode(ctx context.Context, agentID string) (string, error) {
	var c struct {
		Code string `json:"code"`
	}
	if err := s.post(ctx, "/api/v1/devices/enrollment-codes", map[string]string{"agent_id": agentID}, &c); err != nil {
		return "", fmt.Errorf("fleet: enrollment code for %s: %w", agentID, err)
	}
	return c.Code, nil
}

// Codes is a CodeSource minting, for tablet i, a code of agent
// agentIDs[i % len(agentIDs)].
func (s *Staff) Codes(agentIDs []string) CodeSource {
	return func(ctx context.Context, i int) (string, error) {
		return s.EnrollmentCode(ctx, agentIDs[i%len(agentIDs)])
	}
}

func (s *Staff) post(ctx context.Context, path string, in, out any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.ServerURL+path, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if s.Token != "" {
		req.Header.Set("Authorization", "Bearer "+s.Token)
	}
	res, err := s.HTTP.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return err
	}
	if res.StatusCode >= 300 {
		return fmt.Errorf("%s answered %s: %s", path, res.Status, bytes.TrimSpace(body))
	}
	return json.Unmarshal(body, out)
}
