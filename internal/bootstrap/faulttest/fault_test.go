package faulttest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/lumio/contactcentre/internal/auth"
	"github.com/lumio/contactcentre/internal/bootstrap"
	"github.com/lumio/contactcentre/internal/bootstrap/bootstraptest"
	supportv1 "github.com/lumio/contactcentre/internal/gen/contactcentre/support/v1"
	"github.com/lumio/contactcentre/internal/postgres/pgtest"
	"github.com/lumio/contactcentre/internal/tickets"
	"github.com/lumio/contactcentre/internal/tickets/ticketsdb"
	"github.com/lumio/contactcentre/internal/tickets/ticketsgrpc"
)

const (
	// callDeadline is each client call's deadline; slack is how far past it a call may end.
	callDeadline = 500 * time.Millisecond
	slack        = 100 * time.Millisecond
	// recoverWithin is how soon after a fault ends the service must answer again unaided.
	recoverWithin = 5 * time.Second
	workers       = 4
)

// toxiproxyBinary finds the toxiproxy server that `make test` installs (.tools/bin/server).
// A missing binary fails the test: skipping would let the fault test silently stop running.
func toxiproxyBinary(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("TOXIPROXY_SERVER"); p != "" {
		return p
	}
	_, file, _, _ := runtime.Caller(0)
	p := filepath.Join(filepath.Dir(file), "..", "..", "..", ".tools", "bin", "server")
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("toxiproxy server not found at %s (set TOXIPROXY_SERVER or run `make test-tools`, "+
			"which installs github.com/Shopify/toxiproxy/v2/cmd/server at the pinned version): %v", p, err)
	}
	return p
}

// toxiproxy drives a toxiproxy server through its HTTP API.
type toxiproxy struct {
	t   *testing.T
	api string
}

func startToxiproxy(t *testing.T) *toxiproxy {
	t.Helper()
	bin := toxiproxyBinary(t)
	port := freePort(t)
	cmd := exec.Command(bin, "-host", "127.0.0.1", "-port", fmt.Sprint(port))
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatalf("start toxiproxy: %v", err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	tp := &toxiproxy{t: t, api: fmt.Sprintf("http://127.0.0.1:%d", port)}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if err := tp.do(http.MethodGet, "/version", nil, nil); err == nil {
			return tp
		} else if time.Now().After(deadline) {
			t.Fatalf("toxiproxy did not answer within 10s: %v", err)
		}
	}
}

func (tp *toxiproxy) do(method, path string, body, out any) error {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, tp.api+path, r)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		return fmt.Errorf("toxiproxy %s %s: %d %s", method, path, resp.StatusCode, data)
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}

func (tp *toxiproxy) must(method, path string, body, out any) {
	tp.t.Helper()
	if err := tp.do(method, path, body, out); err != nil {
		tp.t.Fatal(err)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	var lc net.ListenConfig
	l, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// serve runs a supportsvc-like process (bootstrap + ticket desk) on dbURL until the test ends.
func serve(t *testing.T, env map[string]string) *grpc.ClientConn {
	t.Helper()
	var cfg bootstrap.Config
	if err := bootstrap.Load(t.Context(), bootstraptest.Lookup(env), &cfg); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p, err := bootstrap.New(ctx, "faulttest", cfg, io.Discard)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	svc := tickets.NewService(ticketsdb.New(p.Pool, p.Keyring), p.Policy, tickets.DefaultSLA(), func() time.Time { return time.Now().UTC() })
	supportv1.RegisterTicketServiceServer(p.GRPC, ticketsgrpc.NewServer(svc))
	ready := make(chan bootstrap.Addrs, 1)
	done := make(chan error, 1)
	go func() { done <- p.Serve(ctx, "127.0.0.1:0", "127.0.0.1:0", func(a bootstrap.Addrs) { ready <- a }) }()
	var addrs bootstrap.Addrs
	select {
	case addrs = <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("serve: %v", err)
	}
	conn, err := grpc.NewClient(addrs.GRPC.String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = conn.Close()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
		p.Close()
	})
	return conn
}

// result is one call's outcome.
type result struct {
	code    codes.Code
	elapsed time.Duration
	msg     string
}

// load keeps workers calling ListTickets until stop is closed, and returns every outcome.
func load(ctx context.Context, client supportv1.TicketServiceClient, stop <-chan struct{}) func() []result {
	var mu sync.Mutex
	var out []result
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				r := call(ctx, client)
				mu.Lock()
				out = append(out, r)
				mu.Unlock()
				time.Sleep(10 * time.Millisecond)
			}
		})
	}
	return func() []result { wg.Wait(); return out }
}

func call(ctx context.Context, client supportv1.TicketServiceClient) result {
	cctx, cancel := context.WithTimeout(ctx, callDeadline)
	defer cancel()
	start := time.Now()
	_, err := client.ListTickets(cctx, &supportv1.ListTicketsRequest{PageSize: 5})
	st := status.Convert(err)
	return result{code: st.Code(), elapsed: time.Since(start), msg: st.Message()}
}

// recovery measures how long after a fault ends the service needs until ten calls in a row
// succeed.
func recovery(ctx context.Context, t *testing.T, client supportv1.TicketServiceClient) time.Duration {
	t.Helper()
	start := time.Now()
	streak := 0
	var last result
	for time.Since(start) < recoverWithin+time.Second {
		last = call(ctx, client)
		if last.code == codes.OK {
			streak++
			if streak == 10 {
				return time.Since(start)
			}
			continue
		}
		streak = 0
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("service did not recover within %v; last call: %v %q", recoverWithin, last.code, last.msg)
	return 0
}

func TestFaultsBetweenServiceAndPostgreSQL(t *testing.T) {
	t.Parallel()
	_, dbURL := pgtest.NewDB(t)
	tp := startToxiproxy(t)
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	var proxy struct {
		Listen string `json:"listen"`
	}
	tp.must(http.MethodPost, "/proxies", map[string]any{
		"name": "postgres", "listen": "127.0.0.1:0", "upstream": u.Host, "enabled": true,
	}, &proxy)
	u.Host = proxy.Listen

	key := make([]byte, 32)
	_, _ = rand.Read(key)
	env := map[string]string{
		"DATABASE_URL":               u.String(),
		"DATABASE_MAX_CONNS":         "4",
		"DATABASE_CONNECT_TIMEOUT":   "1s",
		"DATABASE_STATEMENT_TIMEOUT": "2s",
		"DATA_MASTER_KEY":            base64.StdEncoding.EncodeToString(key),
		"AUTH_DEV_KEY_FILE":          filepath.Join(t.TempDir(), "signing-key.pem"),
		"SHUTDOWN_GRACE":             "2s",
		"LOG_LEVEL":                  "error",
	}
	client := supportv1.NewTicketServiceClient(serve(t, env))
	ctx := bootstraptest.As(t, env, auth.RoleAgent, "fault-agent")
	if r := call(ctx, client); r.code != codes.OK {
		t.Fatalf("before any fault: %v %q", r.code, r.msg)
	}

	faults := []struct {
		name        string
		apply, lift func()
	}{
		{"latency", func() {
			// Each direction is delayed: a round trip takes about twice the call deadline.
			for _, stream := range []string{"downstream", "upstream"} {
				tp.must(http.MethodPost, "/proxies/postgres/toxics", map[string]any{
					"name": "latency_" + stream, "type": "latency", "stream": stream,
					"attributes": map[string]any{"latency": 500, "jitter": 50},
				}, nil)
			}
		}, func() {
			tp.must(http.MethodDelete, "/proxies/postgres/toxics/latency_downstream", nil, nil)
			tp.must(http.MethodDelete, "/proxies/postgres/toxics/latency_upstream", nil, nil)
		}},
		{"connection resets", func() {
			tp.must(http.MethodPost, "/proxies/postgres/toxics", map[string]any{
				"name": "reset", "type": "reset_peer", "stream": "downstream",
				"attributes": map[string]any{"timeout": 0},
			}, nil)
		}, func() {
			tp.must(http.MethodDelete, "/proxies/postgres/toxics/reset", nil, nil)
		}},
		{"full outage", func() {
			// Disabling the proxy closes every connection and refuses new ones.
			tp.must(http.MethodPost, "/proxies/postgres", map[string]any{"enabled": false}, nil)
		}, func() {
			tp.must(http.MethodPost, "/proxies/postgres", map[string]any{"enabled": true}, nil)
		}},
	}
	for _, f := range faults {
		stop := make(chan struct{})
		f.apply()
		results := load(ctx, client, stop)
		time.Sleep(2 * time.Second)
		close(stop)
		got := results()
		f.lift()

		counts := map[codes.Code]int{}
		for _, r := range got {
			counts[r.code]++
			if r.elapsed > callDeadline+slack {
				t.Errorf("%s: a call took %v, want at most the deadline %v plus %v", f.name, r.elapsed, callDeadline, slack)
			}
			switch r.code {
			case codes.OK, codes.Unavailable, codes.DeadlineExceeded:
			default:
				t.Errorf("%s: a call ended %v %q, want UNAVAILABLE or DEADLINE_EXCEEDED", f.name, r.code, r.msg)
			}
		}
		if counts[codes.Unavailable]+counts[codes.DeadlineExceeded] == 0 {
			t.Errorf("%s: no call failed (%v): the fault did not reach the database path", f.name, counts)
		}
		took := recovery(ctx, t, client)
		t.Logf("%s: %d calls %v; recovered in %v", f.name, len(got), summary(counts), took.Round(time.Millisecond))
	}
}

func summary(counts map[codes.Code]int) string {
	var parts []string
	for _, c := range []codes.Code{codes.OK, codes.Unavailable, codes.DeadlineExceeded} {
		parts = append(parts, fmt.Sprintf("%v=%d", c, counts[c]))
	}
	return strings.Join(parts, " ")
}
