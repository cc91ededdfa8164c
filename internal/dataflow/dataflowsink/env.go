package dataflowsink

import (
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/lumio/contactcentre/internal/dataflow"
	"github.com/lumio/contactcentre/internal/keyring"
)

// minSecretLen is the shortest webhook secret accepted: 128 bits of a random string.
const minSecretLen = 16

// FromEnv builds every registry processor's sink from the environment: FLOW_SINK_<ID>_URL and
// FLOW_SINK_<ID>_SECRET (ID upper-cased, e.g. FLOW_SINK_BLUE_OCEAN_URL) give a signed webhook;
// a processor without a URL gets the log sink. FLOW_SINK_TIMEOUT (default 10s) bounds each
// request. Processors of pseudonymised data are always wrapped in Pseudonymised, keyed by kr.
func FromEnv(lookup func(string) (string, bool), kr *keyring.Keyring, logger *slog.Logger) (dataflow.SinkFor, error) {
	get := func(k string) string {
		v, _ := lookup(k)
		return strings.TrimSpace(v)
	}
	timeout := 10 * time.Second
	if v := get("FLOW_SINK_TIMEOUT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("FLOW_SINK_TIMEOUT must be a positive duration such as 10s")
		}
		timeout = d
	}
	client := &http.Client{Timeout: timeout}
	logSink := NewLog(logger)
	hash := func(v string) string { return hex.EncodeToString(kr.Index("flow.pseudonym", v)) }
	sinks := map[string]dataflow.Sink{}
	for _, p := range dataflow.Registry() {
		prefix := "FLOW_SINK_" + strings.ToUpper(p.ID) + "_"
		var s dataflow.Sink = logSink
		if raw := get(prefix + "URL"); raw != "" {
			u, err := url.Parse(raw)
			if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
				return nil, fmt.Errorf("%sURL must be an http(s) URL", prefix)
			}
			secret := get(prefix + "SECRET")
			if len(secret) < minSecretLen {
				return nil, fmt.Errorf("%sSECRET must be set (at least %d characters) when %sURL is", prefix, minSecretLen, prefix)
			}
			s = NewWebhook(raw, []byte(secret), client)
		}
		if p.Data == dataflow.Pseudonymised {
			s = Pseudonymised(s, hash)
		}
		sinks[p.ID] = s
	}
	return dataflow.SinkMap(sinks), nil
}
