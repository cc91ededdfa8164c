// Package bootstraptest runs a whole service in-process for end-to-end tests: the real run
// function on :0 ports against a cloned test database, with a development signing key.
package bootstraptest

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"io"
	"maps"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/lumio/contactcentre/internal/auth"
	"github.com/lumio/contactcentre/internal/bootstrap"
)

// RunFunc is a cmd's run function.
type RunFunc func(ctx context.Context, lookup func(string) (string, bool), stdout io.Writer, ready func(bootstrap.Addrs)) error

// Env returns a complete, valid configuration for both services on the given database, with
// every listener on a free port. Tests override or delete entries to probe configuration.
func Env(t testing.TB, dbURL string) map[string]string {
	t.Helper()
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	return map[string]string{
		"DATABASE_URL":              dbURL,
		"DATABASE_MAX_CONNS":        "4",
		"DATA_MASTER_KEY":           base64.StdEncoding.EncodeToString(key),
		"DATA_MASTER_KEY_ID":        "test-1",
		"AUTH_DEV_KEY_FILE":         filepath.Join(t.TempDir(), "signing-key.pem"),
		"SUPPORTSVC_GRPC_ADDR":      "127.0.0.1:0",
		"SUPPORTSVC_HTTP_ADDR":      "127.0.0.1:0",
		"ORDERSVC_GRPC_ADDR":        "127.0.0.1:0",
		"ORDERSVC_HTTP_ADDR":        "127.0.0.1:0",
		"SUPPORTSVC_PUBLIC_URL":     "http://127.0.0.1:8080",
		"TWILIO_ACCOUNT_SID":        "AC0123456789abcdef0123456789abcdef",
		"TWILIO_AUTH_TOKEN":         "0123456789abcdef0123456789abcdef",
		"TWILIO_API_BASE_URL":       "http://127.0.0.1:1",
		"RECORDING_DIR":             filepath.Join(t.TempDir(), "recordings"),
		"STRIPE_API_BASE_URL":       "http://127.0.0.1:12111",
		"STRIPE_US_SECRET_KEY":      "sk_test_us123",
		"STRIPE_US_PUBLISHABLE_KEY": "pk_test_us123",
		"STRIPE_US_WEBHOOK_SECRET":  "whsec_us123",
		"STRIPE_IE_SECRET_KEY":      "sk_test_ie123",
		"STRIPE_IE_PUBLISHABLE_KEY": "pk_test_ie123",
		"STRIPE_IE_WEBHOOK_SECRET":  "whsec_ie123",
		"SHUTDOWN_GRACE":            "5s",
		"LOG_LEVEL":                 "warn",
	}
}

// Lookup turns an env map into a lookup function.
func Lookup(env map[string]string) func(string) (string, bool) {
	env = maps.Clone(env)
	return func(k string) (string, bool) { v, ok := env[k]; return v, ok }
}

// Service is a running service.
type Service struct {
	Addrs bootstrap.Addrs
	Conn  *grpc.ClientConn
	stop  context.CancelFunc
	done  chan error
}

// Start runs the service until the test ends (or Stop), and dials its gRPC address.
func Start(t testing.TB, run RunFunc, env map[string]string) *Service {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan bootstrap.Addrs, 1)
	done := make(chan error, 1)
	go func() { done <- run(ctx, Lookup(env), io.Discard, func(a bootstrap.Addrs) { ready <- a }) }()
	var addrs bootstrap.Addrs
	select {
	case addrs = <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("service did not start: %v", err)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("service did not start within 30s")
	}
	conn, err := grpc.NewClient(addrs.GRPC.String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	s := &Service{Addrs: addrs, Conn: conn, stop: cancel, done: done}
	t.Cleanup(func() {
		_ = conn.Close()
		if s.stop != nil {
			_ = s.Stop()
		}
	})
	return s
}

// Stop cancels the service's context, as SIGTERM does, and returns what run returned.
func (s *Service) Stop() error {
	s.stop()
	s.stop = nil
	select {
	case err := <-s.done:
		return err
	case <-time.After(30 * time.Second):
		return context.DeadlineExceeded
	}
}

// As returns a context carrying a bearer token for the role, signed with the env's dev key.
func As(t testing.TB, env map[string]string, role auth.Role, subject string) context.Context {
	t.Helper()
	priv, err := auth.LoadOrCreateDevKey(env["AUTH_DEV_KEY_FILE"])
	if err != nil {
		t.Fatal(err)
	}
	tok, err := auth.SignToken(priv, "contactcentre-dev", "contactcentre", subject, []auth.Role{role}, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+tok)
}
