// Package stripemocktest runs one real stripe-mock per test binary, for tests that talk to the
// Stripe API through stripe-go. stripe-mock keeps no state: every create returns a new object,
// whatever its idempotency key, so our own idempotency must be (and is) tested in our database.
package stripemocktest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sync"
	"testing"
	"time"
)

// startTimeout bounds stripe-mock's start (about 2 s on the reference machine; more on a busy one).
const startTimeout = 60 * time.Second

var (
	once    sync.Once
	baseURL string
	cmd     *exec.Cmd
	errBoot error
	// exited is closed when stripe-mock has exited, errWait then holds why (Wait runs in
	// start's goroutine only).
	exited  = make(chan struct{})
	errWait error

	listening = regexp.MustCompile(`Listening for HTTP at address: (\S+)`)
)

// URL returns the base URL of the binary's stripe-mock, starting it on first use. A missing
// binary or a failed start fails the test (never skips it): the Stripe tests are part of the
// suite. It looks for stripe-mock on PATH, then in the repository's .tools/bin (make
// test-tools installs it there).
func URL(t testing.TB) string {
	t.Helper()
	once.Do(func() { baseURL, errBoot = start() })
	if errBoot != nil {
		t.Fatalf("stripemocktest: %v", errBoot)
	}
	return baseURL
}

// Main runs the package's tests and stops stripe-mock afterwards. Call it from TestMain:
//
//	func TestMain(m *testing.M) { stripemocktest.Main(m) }
func Main(m *testing.M) {
	code := m.Run()
	Stop()
	os.Exit(code)
}

// Stop stops stripe-mock if it was started.
func Stop() {
	if cmd != nil && cmd.Process != nil {
		_ = cmd.Process.Kill()
		<-exited
	}
}

func binary() (string, error) {
	if p, err := exec.LookPath("stripe-mock"); err == nil {
		return p, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			p := filepath.Join(dir, ".tools", "bin", "stripe-mock")
			if _, err := os.Stat(p); err == nil {
				return p, nil
			}
			return "", fmt.Errorf("stripe-mock is not on PATH nor at %s: run `make test-tools` "+
				"(or go install github.com/stripe/stripe-mock@v0.203.0)", p)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("stripe-mock is not on PATH and no go.mod was found above the test's directory: run `make test-tools`")
		}
		dir = parent
	}
}

// start runs stripe-mock on ports the system chooses (HTTP and HTTPS both: its HTTPS default
// port would clash between test binaries running in parallel) and reads the HTTP address it
// reports.
func start() (string, error) {
	bin, err := binary()
	if err != nil {
		return "", err
	}
	// The process outlives any one test, so no test context bounds it; Stop and the death
	// signal end it.
	cmd = exec.CommandContext(context.Background(), bin, "-http-addr", "127.0.0.1:", "-https-addr", "127.0.0.1:")
	setDeathSignal(cmd)
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("start %s: %w", bin, err)
	}
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case found <- m[1]:
				default:
				}
			}
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	go func() {
		errWait = cmd.Wait()
		_ = pw.Close()
		close(exited)
	}()
	select {
	case addr := <-found:
		return "http://" + addr, nil
	case <-exited:
		cmd = nil
		return "", fmt.Errorf("%s exited before listening: %w", bin, errWait)
	case <-time.After(startTimeout):
		_ = cmd.Process.Kill()
		return "", fmt.Errorf("%s did not report its address within %s", bin, startTimeout)
	}
}
