package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/go-cmp/cmp"

	"github.com/lumio/contactcentre/internal/auth"
)

// tokenSetup returns an environment with a fresh key path, and a func that runs the command.
func tokenSetup(t *testing.T) (env map[string]string, run func(args ...string) (string, error)) {
	t.Helper()
	env = map[string]string{"AUTH_DEV_KEY_FILE": filepath.Join(t.TempDir(), ".data", "key.pem")}
	run = func(args ...string) (string, error) {
		var stdout, stderr bytes.Buffer
		err := runToken(context.Background(), args, func(k string) string { return env[k] }, &stdout, &stderr)
		return stdout.String(), err
	}
	return env, run
}

// verifyToken checks the token with the same key and settings the services would use.
func verifyToken(t *testing.T, env map[string]string, out string, issuer, audience string) auth.Identity {
	t.Helper()
	if !strings.HasSuffix(out, "\n") || strings.Count(out, "\n") != 1 {
		t.Fatalf("output %q is not one line", out)
	}
	key, err := auth.LoadOrCreateDevKey(env["AUTH_DEV_KEY_FILE"])
	if err != nil {
		t.Fatal(err)
	}
	v := auth.NewDevVerifier(key.Public().(ed25519.PublicKey), issuer, audience)
	id, err := v.Verify(context.Background(), strings.TrimSpace(out))
	if err != nil {
		t.Fatalf("services would reject the token: %v", err)
	}
	return id
}

func TestTokenDefaults(t *testing.T) {
	t.Parallel()
	env, run := tokenSetup(t)
	out, err := run("--role", "agent")
	if err != nil {
		t.Fatal(err)
	}
	got := verifyToken(t, env, out, "contactcentre-dev", "contactcentre")
	want := auth.Identity{Subject: "dev-agent", Roles: []auth.Role{auth.RoleAgent}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("identity (-want +got):\n%s", diff)
	}

	var c jwt.RegisteredClaims
	if _, _, err := jwt.NewParser().ParseUnverified(strings.TrimSpace(out), &c); err != nil {
		t.Fatal(err)
	}
	if ttl := time.Until(c.ExpiresAt.Time); ttl < 11*time.Hour || ttl > 12*time.Hour {
		t.Errorf("token lives %v, want the 12h default", ttl)
	}
}

func TestTokenRolesSubjectAndSettings(t *testing.T) {
	t.Parallel()
	env, run := tokenSetup(t)
	env["AUTH_ISSUER"], env["AUTH_AUDIENCE"] = "my-issuer", "my-audience"
	out, err := run("--role", "agent,supervisor", "--role", "finance", "--sub", "alice", "--ttl", "5m")
	if err != nil {
		t.Fatal(err)
	}
	got := verifyToken(t, env, out, "my-issuer", "my-audience")
	want := auth.Identity{Subject: "alice", Roles: []auth.Role{auth.RoleAgent, auth.RoleSupervisor, auth.RoleFinance}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("identity (-want +got):\n%s", diff)
	}
}

func TestTokenRefuses(t *testing.T) {
	t.Parallel()
	tests := map[string][]string{
		"no role":        {},
		"unknown role":   {"--role", "root"},
		"empty in list":  {"--role", "agent,"},
		"negative ttl":   {"--role", "agent", "--ttl", "-1h"},
		"extra argument": {"--role", "agent", "extra"},
		"unknown flag":   {"--role", "agent", "--admin"},
	}
	for name, args := range tests {
		_, run := tokenSetup(t)
		if out, err := run(args...); err == nil || out != "" {
			t.Errorf("%s: runToken = %q, %v; want an error and no output", name, out, err)
		}
	}
}

func TestTokenRefusesWithJWKS(t *testing.T) {
	t.Parallel()
	env, run := tokenSetup(t)
	env["AUTH_JWKS_URL"] = "https://idp.example.com/jwks.json"
	out, err := run("--role", "admin")
	if err == nil || !strings.Contains(err.Error(), "AUTH_JWKS_URL") || out != "" {
		t.Fatalf("runToken with AUTH_JWKS_URL = %q, %v; want a refusal naming AUTH_JWKS_URL", out, err)
	}
	if _, err := os.Stat(env["AUTH_DEV_KEY_FILE"]); !os.IsNotExist(err) {
		t.Errorf("a development key was created although production issuers are configured")
	}
}
