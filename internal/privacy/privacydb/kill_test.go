package privacydb_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/lumio/contactcentre/internal/keyring"
	"github.com/lumio/contactcentre/internal/postgres"
	"github.com/lumio/contactcentre/internal/privacy"
	"github.com/lumio/contactcentre/internal/privacy/privacydb"
)

// Environment of the erasing subprocess (the test binary re-executing itself).
const (
	childDBEnv       = "PRIVACYDB_CHILD_DATABASE_URL"
	childKeyEnv      = "PRIVACYDB_CHILD_MASTER_KEY"
	childCustomerEnv = "PRIVACYDB_CHILD_CUSTOMER"
	childStopEnv     = "PRIVACYDB_CHILD_STOP_AFTER"
	stoppedMarker    = "STOPPED-AFTER-STEP"
)

// TestMain runs the erasing process of TestKilledErasureResumes when the test binary is
// re-executed as that subprocess, and the tests otherwise.
func TestMain(m *testing.M) {
	if dbURL := os.Getenv(childDBEnv); dbURL != "" {
		err := runErasureChild(dbURL)
		fmt.Fprintln(os.Stderr, "erasure subprocess:", err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// runErasureChild requests the erasure and, once step PRIVACYDB_CHILD_STOP_AFTER is committed,
// says so and hangs until the parent kills it. Returning at all is a failure.
func runErasureChild(dbURL string) error {
	ctx := context.Background()
	pool, err := postgres.Open(ctx, postgres.Config{URL: dbURL, MaxConns: 4})
	if err != nil {
		return err
	}
	stop, _ := strconv.Atoi(os.Getenv(childStopEnv))
	kr, err := keyring.New(keyring.Config{MasterKey: os.Getenv(childKeyEnv), MasterKeyID: "test"})
	if err != nil {
		return err
	}
	cfg := privacy.Config{AfterStep: func(_ string, s privacy.Step) {
		if int(s) == stop {
			fmt.Printf("%s %d\n", stoppedMarker, s)
			select {} // until SIGKILL: no deferred cleanup, no further step
		}
	}}
	svc := privacy.NewService(privacydb.New(pool, kr), cfg, nil, time.Now)
	_, err = svc.RequestErasure(ctx, "po-1", privacy.NewErasure{CustomerID: os.Getenv(childCustomerEnv)}, "erase-killed")
	return fmt.Errorf("the process was to be killed after step %d, but RequestErasure returned (%w)", stop, err)
}

// TestKilledErasureResumes kills the erasing process with SIGKILL twice between steps: a retry
// of the request drives the erasure on from the first kill, and the resumer (any replica,
// after the lease) finishes it after the second. The result is what an uninterrupted erasure
// leaves.
func TestKilledErasureResumes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	a, b := seed(t, e, "k"), seed(t, e, "l")

	kill := func(stop privacy.Step) {
		t.Helper()
		cmd := exec.CommandContext(ctx, os.Args[0])
		cmd.Env = append(os.Environ(), childDBEnv+"="+e.url, childKeyEnv+"="+e.masterKey,
			childCustomerEnv+"="+a.customer, childStopEnv+"="+strconv.Itoa(int(stop)))
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		reached := make(chan bool, 1)
		go func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				if strings.HasPrefix(sc.Text(), stoppedMarker) {
					reached <- true
					_, _ = io.Copy(io.Discard, out)
					return
				}
			}
			reached <- false
		}()
		select {
		case ok := <-reached:
			if !ok {
				_ = cmd.Wait()
				t.Fatalf("the subprocess ended before step %s", stop)
			}
		case <-time.After(60 * time.Second):
			_ = cmd.Process.Kill()
			t.Fatalf("the subprocess never reached step %s", stop)
		}
		if err := cmd.Process.Kill(); err != nil { // SIGKILL
			t.Fatal(err)
		}
		_ = cmd.Wait()
	}
	stepOf := func() (string, privacy.Step, string) {
		t.Helper()
		var id, status string
		var step int
		if err := e.pool.QueryRow(ctx, `SELECT id::text, step, status FROM erasure_requests WHERE customer_id = $1`, a.customer).Scan(&id, &step, &status); err != nil {
			t.Fatal(err)
		}
		return id, privacy.Step(step), status
	}

	kill(privacy.StepRecordings)
	if _, step, status := stepOf(); step != privacy.StepRecordings || status != "running" {
		t.Fatalf("after the first kill: step %s, %s; want step recordings, running", step, status)
	}
	kill(privacy.StepKeys)
	id, step, _ := stepOf()
	if step != privacy.StepKeys {
		t.Fatalf("after the second kill: step %s, want keys", step)
	}

	clk := &clock{t: time.Now().UTC()}
	svc := e.service(clk.now, privacy.Config{})
	if err := svc.Resume(ctx); err != nil {
		t.Fatal(err)
	}
	if _, step, _ := stepOf(); step != privacy.StepKeys {
		t.Fatalf("the resumer took an erasure whose lease had not run out (step %s)", step)
	}
	clk.set(clk.now().Add(2 * privacy.DefaultConfig().Lease))
	if err := svc.Resume(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := svc.GetErasure(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != privacy.StatusHolding || got.Step != privacy.StepSettle {
		t.Fatalf("after resuming: %s at step %s; want HOLDING after settle", got.Status, got.Step)
	}
	if err := e.rec.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	corpus := scan(t, e)
	if diff := cmp.Diff(sorted(a.held), sorted(found(e, corpus, a.canaries))); diff != "" {
		t.Errorf("after the resumed erasure, canaries other than the held ones (-want +got):\n%s", diff)
	}
	if missing := len(b.canaries) - len(found(e, corpus, b.canaries)); missing != 0 {
		t.Errorf("customer l lost %d canaries", missing)
	}
	kinds := map[string]int{}
	for _, it := range got.Erased {
		kinds[it.Kind]++
	}
	if kinds[privacy.KindTicket] != 12 || kinds[privacy.KindRecording] != 2 || kinds[privacy.KindDataKey] != 1 {
		t.Errorf("receipt after resume erased %v", kinds)
	}
}
