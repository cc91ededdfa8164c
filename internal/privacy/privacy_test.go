package privacy_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/lumio/contactcentre/internal/apperr"
	"github.com/lumio/contactcentre/internal/privacy"
)

// fakeStore is a Store of func fields; unset ones fail the test if called.
type fakeStore struct {
	t          *testing.T
	create     func(e privacy.Erasure, requestID string) (privacy.Erasure, bool, error)
	runStep    func(id string, step privacy.Step) (privacy.Erasure, error)
	get        func(id string) (privacy.Erasure, error)
	claimStale func(now, leaseUntil time.Time) ([]string, error)
}

func (f *fakeStore) Create(_ context.Context, e privacy.Erasure, requestID string, _ []byte, _ time.Time) (privacy.Erasure, bool, error) {
	return f.create(e, requestID)
}

func (f *fakeStore) RunStep(_ context.Context, id string, step privacy.Step, _, _ time.Time) (privacy.Erasure, error) {
	return f.runStep(id, step)
}
func (f *fakeStore) Get(_ context.Context, id string) (privacy.Erasure, error) { return f.get(id) }
func (f *fakeStore) ClaimStale(_ context.Context, now, leaseUntil time.Time, _ int) ([]string, error) {
	return f.claimStale(now, leaseUntil)
}

func (f *fakeStore) Purge(context.Context, time.Time, int) ([]string, error) {
	f.t.Fatal("Purge called")
	return nil, nil
}

func (f *fakeStore) Export(context.Context, string, func(privacy.Document) error) error {
	f.t.Fatal("Export called")
	return nil
}

const customer = "0190b5e4-0000-7000-8000-000000000001"

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func TestRequestErasureRunsEveryStepInOrder(t *testing.T) {
	t.Parallel()
	var ran, hooked []privacy.Step
	store := &fakeStore{t: t,
		create: func(e privacy.Erasure, _ string) (privacy.Erasure, bool, error) { return e, false, nil },
		runStep: func(id string, step privacy.Step) (privacy.Erasure, error) {
			ran = append(ran, step)
			return privacy.Erasure{ID: id, Status: privacy.StatusHolding, Step: step}, nil
		},
	}
	svc := privacy.NewService(store, privacy.Config{AfterStep: func(_ string, s privacy.Step) { hooked = append(hooked, s) }}, nil, func() time.Time { return t0 })
	got, err := svc.RequestErasure(context.Background(), "po-1", privacy.NewErasure{CustomerID: strings.ToUpper(customer)}, "")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(privacy.Steps, ran); diff != "" {
		t.Errorf("steps (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(privacy.Steps, hooked); diff != "" {
		t.Errorf("hook calls (-want +got):\n%s", diff)
	}
	if got.Step != privacy.StepSettle || got.Status != privacy.StatusHolding {
		t.Errorf("result = %+v", got)
	}
}

func TestRequestErasureReturnsRunningWhenAStepFails(t *testing.T) {
	t.Parallel()
	running := privacy.Erasure{ID: "e1", CustomerID: customer, Status: privacy.StatusRunning, Step: privacy.StepTickets}
	store := &fakeStore{t: t,
		create: func(privacy.Erasure, string) (privacy.Erasure, bool, error) { return running, false, nil },
		runStep: func(_ string, step privacy.Step) (privacy.Erasure, error) {
			if step == privacy.StepRecordings {
				return privacy.Erasure{}, apperr.ErrUnavailable
			}
			return running, nil
		},
		get: func(string) (privacy.Erasure, error) { return running, nil },
	}
	svc := privacy.NewService(store, privacy.Config{}, nil, func() time.Time { return t0 })
	got, err := svc.RequestErasure(context.Background(), "po-1", privacy.NewErasure{CustomerID: customer}, "")
	if err != nil {
		t.Fatalf("a failed step must leave the erasure to the resumer, not fail the request: %v", err)
	}
	if diff := cmp.Diff(running, got); diff != "" {
		t.Errorf("receipt (-want +got):\n%s", diff)
	}
}

func TestRequestErasureReturnsAFinishedOneUnchanged(t *testing.T) {
	t.Parallel()
	done := privacy.Erasure{ID: "e1", CustomerID: customer, Status: privacy.StatusComplete, Step: privacy.StepSettle}
	store := &fakeStore{t: t,
		create: func(privacy.Erasure, string) (privacy.Erasure, bool, error) { return done, true, nil },
		runStep: func(string, privacy.Step) (privacy.Erasure, error) {
			t.Fatal("a finished erasure ran a step")
			return privacy.Erasure{}, nil
		},
	}
	svc := privacy.NewService(store, privacy.Config{}, nil, func() time.Time { return t0 })
	got, err := svc.RequestErasure(context.Background(), "po-1", privacy.NewErasure{CustomerID: customer}, "r")
	if err != nil || got.ID != "e1" {
		t.Errorf("got %+v, %v", got, err)
	}
	if _, err := svc.RequestErasure(context.Background(), "", privacy.NewErasure{CustomerID: customer}, "r"); !errors.Is(err, apperr.ErrUnauthenticated) {
		t.Errorf("no actor: %v", err)
	}
}

func TestResumeLeasesAndRunsStaleErasures(t *testing.T) {
	t.Parallel()
	var ran []string
	store := &fakeStore{t: t,
		claimStale: func(now, leaseUntil time.Time) ([]string, error) {
			if !now.Equal(t0) || leaseUntil.Sub(now) != time.Minute {
				t.Errorf("claim at %v until %v", now, leaseUntil)
			}
			return []string{"a", "b"}, nil
		},
		runStep: func(id string, step privacy.Step) (privacy.Erasure, error) {
			if step == privacy.StepTickets {
				ran = append(ran, id)
			}
			if id == "b" && step == privacy.StepOutbox {
				return privacy.Erasure{}, errors.New("boom")
			}
			return privacy.Erasure{ID: id}, nil
		},
	}
	svc := privacy.NewService(store, privacy.Config{}, nil, func() time.Time { return t0 })
	if err := svc.Resume(context.Background()); err == nil || !strings.Contains(err.Error(), "erasure b step outbox") {
		t.Errorf("Resume = %v; want b's failure reported", err)
	}
	if diff := cmp.Diff([]string{"a", "b"}, ran); diff != "" {
		t.Errorf("resumed (-want +got):\n%s", diff)
	}
}

func TestSummarise(t *testing.T) {
	t.Parallel()
	got := privacy.Summarise([]privacy.NoticeDelivery{
		{RecordID: "1", Subprocessor: "salesforce", Status: "delivered"},
		{RecordID: "2", Subprocessor: "salesforce", Status: "pending"},
		{RecordID: "1", Subprocessor: "microsoft", Status: "delivered"},
		{RecordID: "1", Subprocessor: "blue_ocean", Status: "dead"},
		{RecordID: "2", Subprocessor: "blue_ocean", Status: "delivered"},
	})
	want := []privacy.Notice{
		{Subprocessor: "blue_ocean", Status: "dead"},
		{Subprocessor: "microsoft", Status: "delivered"},
		{Subprocessor: "salesforce", Status: "pending"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Summarise (-want +got):\n%s", diff)
	}
}

func TestBasisNamesTheLawAndNoValue(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ kind, country, want string }{
		{privacy.KindOrder, "NL", "Algemene wet inzake rijksbelastingen art. 52"},
		{privacy.KindPayment, "DE", "Handelsgesetzbuch §257"},
		{privacy.KindRefund, "IT", "2006/112/EC"},
		{privacy.KindCustomer, "CA", "Income Tax Act s.230"},
		{privacy.KindOrder, "JP", "JP: its commercial and tax record-keeping law"},
	} {
		got := privacy.Basis(tt.kind, tt.country)
		if !strings.Contains(got, tt.want) || !strings.Contains(got, "17(3)(b)") {
			t.Errorf("Basis(%s, %s) = %q; want it to name %q and GDPR art. 17(3)(b)", tt.kind, tt.country, got, tt.want)
		}
	}
}

func TestValidateNewErasure(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name      string
		in        privacy.NewErasure
		requestID string
		field     string
	}{
		{"no customer", privacy.NewErasure{}, "", "customer_id"},
		{"bad customer", privacy.NewErasure{CustomerID: "acme"}, "", "customer_id"},
		{"long reason", privacy.NewErasure{CustomerID: customer, Reason: strings.Repeat("x", 501)}, "", "reason"},
		{"bad utf-8", privacy.NewErasure{CustomerID: customer, Reason: "\xff"}, "", "reason"},
		{"long request id", privacy.NewErasure{CustomerID: customer}, strings.Repeat("r", 201), "request_id"},
		{"ok", privacy.NewErasure{CustomerID: customer, Reason: "asked by email"}, "r-1", ""},
	} {
		_, err := privacy.ValidateNewErasure(tt.in, tt.requestID)
		field, _ := apperr.Field(err)
		if field != tt.field || (tt.field == "") != (err == nil) {
			t.Errorf("%s: %v, want field %q", tt.name, err, tt.field)
		}
	}
}

func FuzzValidateNewErasure(f *testing.F) {
	f.Add(customer, "reason", "r-1")
	f.Add("", "", "")
	f.Add("not-an-id", "\xff", strings.Repeat("x", 300))
	f.Fuzz(func(t *testing.T, id, reason, requestID string) {
		_, err := privacy.ValidateNewErasure(privacy.NewErasure{CustomerID: id, Reason: reason}, requestID)
		var inv *apperr.InvalidError
		if err != nil && !errors.As(err, &inv) {
			t.Fatalf("error %v is not an *apperr.InvalidError", err)
		}
	})
}
