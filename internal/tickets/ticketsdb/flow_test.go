package ticketsdb_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/lumio/contactcentre/internal/dataflow"
	"github.com/lumio/contactcentre/internal/dataflow/dataflowdb"
	"github.com/lumio/contactcentre/internal/tickets"
)

// deliveries maps each processor to its deliveries' "kind:status", oldest first.
func (b testBundle) deliveries(t *testing.T, id string) map[string][]string {
	t.Helper()
	ds, err := dataflowdb.New(b.pool, b.kr).Deliveries(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, d := range ds {
		out[d.Subprocessor] = append(out[d.Subprocessor], string(d.Kind)+":"+string(d.Status))
	}
	return out
}

func TestCreateTracksAndEnqueuesToPushTargets(t *testing.T) {
	t.Parallel()
	svc, b := setup(t)
	ctx := context.Background()
	tests := []struct {
		channel tickets.Channel
		want    []string
	}{
		{tickets.ChannelPhone, []string{dataflow.BlueOcean, dataflow.CallMiner, dataflow.Microsoft}},
		{tickets.ChannelEmail, []string{dataflow.BlueOcean, dataflow.CallMiner, dataflow.Microsoft}},
		{tickets.ChannelChat, []string{dataflow.BlueOcean, dataflow.Microsoft}},
		{tickets.ChannelFieldForm, []string{dataflow.BlueOcean, dataflow.Google, dataflow.Microsoft}},
		{tickets.ChannelErrorReport, []string{dataflow.BlueOcean, dataflow.Microsoft, dataflow.Salesforce}},
	}
	for _, tt := range tests {
		in := b.phoneTicket()
		in.Channel = tt.channel
		tk, err := svc.CreateTicket(ctx, "agent-1", in, "")
		if err != nil {
			t.Fatal(err)
		}
		want := map[string][]string{}
		for _, p := range tt.want {
			want[p] = []string{"record:pending"}
		}
		if diff := cmp.Diff(want, b.deliveries(t, tk.ID)); diff != "" {
			t.Errorf("%s ticket deliveries (-want +got):\n%s", tt.channel, diff)
		}
		rec, err := dataflowdb.New(b.pool, b.kr).Record(ctx, tk.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tk.AllowedSubprocessors, rec.Allowed); diff != "" {
			t.Errorf("%s ledger list differs from the ticket's (-ticket +ledger):\n%s", tt.channel, diff)
		}
	}
}

// TestRecordingOptOutRevokesCallMiner: opting out cancels the queued callminer delivery, and once
// callminer has received the ticket, asks it to delete its copy.
func TestRecordingOptOutRevokesCallMiner(t *testing.T) {
	t.Parallel()
	svc, b := setup(t)
	ctx := context.Background()

	queued, err := svc.CreateTicket(ctx, "agent-1", b.phoneTicket(), "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.SetRecordingOptOut(ctx, "agent-1", queued.ID, true); err != nil {
		t.Fatal(err)
	}
	if got := b.deliveries(t, queued.ID)[dataflow.CallMiner]; !cmp.Equal(got, []string{"record:cancelled"}) {
		t.Errorf("queued callminer delivery after opt-out = %v, want cancelled", got)
	}

	sent, err := svc.CreateTicket(ctx, "agent-1", b.phoneTicket(), "")
	if err != nil {
		t.Fatal(err)
	}
	noop := dataflow.SinkFunc(func(context.Context, dataflow.Message) error { return nil })
	d := dataflow.NewDispatcher(dataflowdb.New(b.pool, b.kr), func(string) dataflow.Sink { return noop }, dataflow.DispatchConfig{}, nil, time.Now)
	for {
		n, err := d.RunOnce(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
	}
	if _, err := svc.SetRecordingOptOut(ctx, "agent-1", sent.ID, true); err != nil {
		t.Fatal(err)
	}
	if got := b.deliveries(t, sent.ID)[dataflow.CallMiner]; !cmp.Equal(got, []string{"record:delivered", "deletion:pending"}) {
		t.Errorf("delivered callminer copy after opt-out = %v, want a pending deletion request", got)
	}
	// blue_ocean may still hold the ticket: nothing changes there.
	if got := b.deliveries(t, sent.ID)[dataflow.BlueOcean]; !cmp.Equal(got, []string{"record:delivered"}) {
		t.Errorf("blue_ocean = %v", got)
	}
}
