package bootstrap

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/lumio/contactcentre/internal/postgres/pgtest"
)

// startProcess loads env like a cmd does, and serves on :0 until the test ends.
func startProcess(t *testing.T, env map[string]string) (*Process, Addrs) {
	t.Helper()
	_, dbURL := pgtest.NewDB(t)
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	full := map[string]string{
		"DATABASE_URL":       dbURL,
		"DATABASE_MAX_CONNS": "4",
		"DATA_MASTER_KEY":    base64.StdEncoding.EncodeToString(key),
		"AUTH_DEV_KEY_FILE":  filepath.Join(t.TempDir(), "signing-key.pem"),
		"SHUTDOWN_GRACE":     "2s",
		"LOG_LEVEL":          "warn",
	}
	for k, v := range env {
		full[k] = v
	}
	var cfg Config
	if err := Load(t.Context(), func(k string) (string, bool) { v, ok := full[k]; return v, ok }, &cfg); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p, err := New(ctx, "testsvc", cfg, io.Discard)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	ready := make(chan Addrs, 1)
	done := make(chan error, 1)
	go func() { done <- p.Serve(ctx, "127.0.0.1:0", "127.0.0.1:0", func(a Addrs) { ready <- a }) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
		p.Close()
	})
	select {
	case a := <-ready:
		return p, a
	case err := <-done:
		t.Fatalf("Serve: %v", err)
	}
	return nil, Addrs{}
}

func healthCheck(ctx context.Context, addr string, creds credentials.TransportCredentials) error {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err = healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	return err
}

func TestServeMutualTLS(t *testing.T) {
	t.Parallel()
	pki := newTestPKI(t)
	dir := t.TempDir()
	certFile, keyFile, caFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key"), filepath.Join(dir, "ca.crt")
	writePair(t, certFile, keyFile, pki.serverPair(t, "server"))
	if err := os.WriteFile(caFile, pki.caPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	p, addrs := startProcess(t, map[string]string{
		"TLS_CERT_FILE": certFile, "TLS_KEY_FILE": keyFile, "GRPC_CLIENT_CA_FILE": caFile,
		"GRPC_HEALTH_ADDR": "127.0.0.1:0", "DATABASE_STATEMENT_TIMEOUT": "7s",
	})
	ctx := t.Context()

	withCert := credentials.NewTLS(&tls.Config{RootCAs: pki.pool(), Certificates: []tls.Certificate{pki.clientCert(t, "storefront")}, MinVersion: tls.VersionTLS12})
	if err := healthCheck(ctx, addrs.GRPC.String(), withCert); err != nil {
		t.Errorf("mTLS client with a certificate: %v", err)
	}
	noCert := credentials.NewTLS(&tls.Config{RootCAs: pki.pool(), MinVersion: tls.VersionTLS12})
	if err := healthCheck(ctx, addrs.GRPC.String(), noCert); err == nil {
		t.Error("client without a certificate was served, want the handshake refused")
	}
	foreign := newTestPKI(t)
	wrongCA := credentials.NewTLS(&tls.Config{RootCAs: pki.pool(), Certificates: []tls.Certificate{foreign.clientCert(t, "mallory")}, MinVersion: tls.VersionTLS12})
	if err := healthCheck(ctx, addrs.GRPC.String(), wrongCA); err == nil {
		t.Error("client certificate from another CA was accepted")
	}
	if err := healthCheck(ctx, addrs.GRPC.String(), insecure.NewCredentials()); err == nil {
		t.Error("plaintext client was served on the TLS port")
	}
	// Kubernetes' probes are plaintext: they use the health-only port.
	if err := healthCheck(ctx, addrs.Health.String(), insecure.NewCredentials()); err != nil {
		t.Errorf("plaintext health port: %v", err)
	}

	// HTTPS needs no client certificate (Twilio and Stripe cannot present one), and /metrics
	// shows the pool and RPC metrics.
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pki.pool(), MinVersion: tls.VersionTLS12}}}
	for path, want := range map[string]string{"/healthz": "ok", "/metrics": "db_pool_total_conns"} {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+addrs.HTTP.String()+path, nil)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("GET %s over TLS: %v", path, err)
		}
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), want) {
			t.Errorf("GET %s = %d, body lacks %q", path, resp.StatusCode, want)
		}
	}
	if !strings.Contains(metricsText(t, p), "grpc_server_handled_total") {
		t.Error("/metrics lacks grpc_server_handled_total")
	}

	// Every pooled connection carries the configured statement timeout.
	var got string
	if err := p.Pool.QueryRow(ctx, "SHOW statement_timeout").Scan(&got); err != nil {
		t.Fatal(err)
	}
	if got != "7s" {
		t.Errorf("statement_timeout = %q, want 7s from DATABASE_STATEMENT_TIMEOUT", got)
	}
}

func TestServePlaintextByDefault(t *testing.T) {
	t.Parallel()
	_, addrs := startProcess(t, nil)
	if err := healthCheck(t.Context(), addrs.GRPC.String(), insecure.NewCredentials()); err != nil {
		t.Errorf("plaintext health check: %v", err)
	}
	if addrs.Health != nil {
		t.Errorf("health-only port %v without GRPC_HEALTH_ADDR", addrs.Health)
	}
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+addrs.HTTP.String()+"/healthz", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET /healthz = %d", resp.StatusCode)
	}
}

func metricsText(t *testing.T, p *Process) string {
	t.Helper()
	families, err := p.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range families {
		names = append(names, f.GetName())
	}
	return strings.Join(names, "\n")
}
