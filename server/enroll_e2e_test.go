package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"villagesync/server/internal/buildonce"
	"villagesync/server/internal/pgtest"
	"villagesync/syncproto"
)

// buildAgentapp builds the real tablet binary for end-to-end tests, once
// per test process.
func buildAgentapp(t testing.TB) string {
	t.Helper()
	bin, err := buildonce.Binary("villagesync/agentapp")
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

func postJSON(t testing.TB, url, token string, in, out any) int {
	t.Helper()
	b, _ := json.Marshal(in)
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if out != nil {
		json.NewDecoder(res.Body).Decode(out)
	}
	return res.StatusCode
}

// demoPassword reads a demo user's password from the users file that the
// server wrote in its DATA_DIR.
func demoPassword(t testing.TB, dataDir, username string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dataDir, "demo-users.txt"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Split(line, "\t"); len(f) == 4 && f[1] == username {
			return f[2]
		}
	}
	t.Fatalf("%s not in demo-users.txt:\n%s", username, b)
	return ""
}

// The tablet's enrollment end to end: township staff make a code, the real
// agentapp binary enrolls with it and sets a PIN; the PIN unlocks it, a
// wrong one does not, and the code does not work twice.
func TestEnrollEndToEnd(t *testing.T) {
	t.Parallel()
	agentapp := buildAgentapp(t)
	dataDir := t.TempDir()
	base, _ := startServer(t, pgtest.NewURL(t), func(c *Config) { c.DataDir = dataDir })

	var pair syncproto.TokenPair
	if code := postJSON(t, base+"/api/v1/auth/login", "", map[string]string{
		"username": "township.lincheng", "password": demoPassword(t, dataDir, "township.lincheng")}, &pair); code != 200 {
		t.Fatalf("township login: %d", code)
	}
	var users struct {
		Users []struct {
			ID, Username string
		}
	}
	req, _ := http.NewRequest(http.MethodGet, base+"/api/v1/users?role=agent", nil)
	req.Header.Set("Authorization", "Bearer "+pair.AccessToken)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	json.NewDecoder(res.Body).Decode(&users)
	res.Body.Close()
	if len(users.Users) != 1 {
		t.Fatalf("township sees agents %+v", users.Users)
	}
	var code struct{ Code string }
	if st := postJSON(t, base+"/api/v1/devices/enrollment-codes", pair.AccessToken,
		map[string]string{"agent_id": users.Users[0].ID}, &code); st != 201 {
		t.Fatalf("enrollment code: %d", st)
	}

	db := filepath.Join(t.TempDir(), "agent.db")
	run := func(pin string, args ...string) (string, error) {
		cmd := exec.CommandContext(t.Context(), agentapp, append([]string{"--db", db}, args...)...)
		cmd.Env = append(os.Environ(), "AGENTAPP_PIN="+pin)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := run("123456", "enroll", "--server", base, "--code", code.Code, "--name", "测试平板"); err == nil ||
		!strings.Contains(out, "pin_weak") && !strings.Contains(out, "PIN") {
		t.Fatalf("a weak PIN was accepted: %v\n%s", err, out)
	}
	if out, err := run("860531", "enroll", "--server", base, "--code", code.Code, "--name", "测试平板"); err != nil {
		t.Fatalf("enroll: %v\n%s", err, out)
	}
	out, err := run("", "status", "--json")
	if err != nil {
		t.Fatalf("status: %v\n%s", err, out)
	}
	var st struct {
		Enrolled   bool
		Enrollment struct {
			DeviceID string   `json:"device_id"`
			Villages []string `json:"villages"`
		}
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil || !st.Enrolled || len(st.Enrollment.Villages) != 1 || st.Enrollment.DeviceID == "" {
		t.Fatalf("status after enroll: %v\n%s", err, out)
	}
	if out, err := run("860531", "unlock"); err != nil {
		t.Fatalf("right PIN: %v\n%s", err, out)
	}
	if out, err := run("860532", "unlock"); err == nil || !strings.Contains(out, "pin_wrong") && !strings.Contains(out, "PIN") {
		t.Fatalf("wrong PIN unlocked: %v\n%s", err, out)
	}
	other := filepath.Join(t.TempDir(), "other.db")
	cmd := exec.CommandContext(t.Context(), agentapp, "--db", other, "enroll", "--server", base, "--code", code.Code)
	cmd.Env = append(os.Environ(), "AGENTAPP_PIN=860531")
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "登记码") {
		t.Fatalf("a used code enrolled a second tablet: %v\n%s", err, out)
	}
}
