package dataflowsink_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/lumio/contactcentre/internal/dataflow"
	"github.com/lumio/contactcentre/internal/dataflow/dataflowsink"
	"github.com/lumio/contactcentre/internal/keyring/keyringtest"
)

func TestFromEnv(t *testing.T) {
	t.Parallel()
	kr := keyringtest.New(t)
	hits := make(chan string, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits <- r.Header.Get(dataflowsink.HeaderDeliveryID)
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)
	env := map[string]string{"FLOW_SINK_BLUE_OCEAN_URL": srv.URL, "FLOW_SINK_BLUE_OCEAN_SECRET": "0123456789abcdef"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	sinks, err := dataflowsink.FromEnv(lookup, kr, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range dataflow.Registry() {
		if sinks(p.ID) == nil {
			t.Errorf("no sink for %s", p.ID)
		}
	}
	if err := sinks(dataflow.BlueOcean).Deliver(context.Background(), message()); err != nil {
		t.Fatal(err)
	}
	if got := <-hits; got != message().DeliveryID {
		t.Errorf("webhook got delivery %q", got)
	}
	// Processors without a URL use the log sink, which succeeds without a request.
	if err := sinks(dataflow.Microsoft).Deliver(context.Background(), message()); err != nil || len(hits) != 0 {
		t.Errorf("log sink: err %v, %d requests", err, len(hits))
	}
	// mixpanel is pseudonymised even on the log sink: a non-object payload is refused.
	m := message()
	m.Payload = json.RawMessage(`"Edna"`)
	if err := sinks(dataflow.Mixpanel).Deliver(context.Background(), m); !dataflow.IsPermanent(err) {
		t.Errorf("mixpanel with a non-object payload: %v, want a permanent error", err)
	}

	for name, bad := range map[string]map[string]string{
		"url without secret": {"FLOW_SINK_HUBSPOT_URL": "https://hooks.example/h"},
		"short secret":       {"FLOW_SINK_HUBSPOT_URL": "https://hooks.example/h", "FLOW_SINK_HUBSPOT_SECRET": "short"},
		"not http":           {"FLOW_SINK_HUBSPOT_URL": "ftp://hooks.example/h", "FLOW_SINK_HUBSPOT_SECRET": "0123456789abcdef"},
		"bad timeout":        {"FLOW_SINK_TIMEOUT": "soon"},
	} {
		if _, err := dataflowsink.FromEnv(func(k string) (string, bool) { v, ok := bad[k]; return v, ok }, kr, nil); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
