package main

import (
	"context"
	"fmt"
	"regexp"

	"github.com/lumio/contactcentre/internal/bootstrap"
	"github.com/lumio/contactcentre/internal/tickets"
)

// Config is supportsvc's whole configuration, from the environment (names as in API.md).
type Config struct {
	bootstrap.Config
	GRPCAddr  string `env:"SUPPORTSVC_GRPC_ADDR, default=127.0.0.1:9090"`
	HTTPAddr  string `env:"SUPPORTSVC_HTTP_ADDR, default=127.0.0.1:8080"`
	PublicURL string `env:"SUPPORTSVC_PUBLIC_URL, required"`
	Twilio    TwilioConfig
	// SLA is parsed from the SLA_* strings below.
	SLA tickets.SLAPolicy
	// SLA targets per priority, as first-response/resolution durations.
	SLAUrgent string `env:"SLA_URGENT, default=1h/4h"`
	SLAHigh   string `env:"SLA_HIGH, default=4h/24h"`
	SLANormal string `env:"SLA_NORMAL, default=8h/72h"`
	SLALow    string `env:"SLA_LOW, default=24h/168h"`
}

// TwilioConfig is the telephony carrier's account.
type TwilioConfig struct {
	AccountSID string `env:"TWILIO_ACCOUNT_SID, required"`
	AuthToken  string `env:"TWILIO_AUTH_TOKEN, required" json:"-"`
	// APIBaseURL replaces https://api.twilio.com (tests point it at a local server).
	APIBaseURL string `env:"TWILIO_API_BASE_URL, default=https://api.twilio.com"`
}

var (
	twilioSID   = regexp.MustCompile(`^AC[0-9a-f]{32}$`)
	twilioToken = regexp.MustCompile(`^[0-9a-zA-Z]{32}$`)
)

func loadConfig(ctx context.Context, lookup func(string) (string, bool)) (Config, error) {
	var cfg Config
	if err := bootstrap.Load(ctx, lookup, &cfg); err != nil {
		return Config{}, err
	}
	if err := bootstrap.CheckURL("SUPPORTSVC_PUBLIC_URL", cfg.PublicURL); err != nil {
		return Config{}, err
	}
	if err := bootstrap.CheckURL("TWILIO_API_BASE_URL", cfg.Twilio.APIBaseURL); err != nil {
		return Config{}, err
	}
	if !twilioSID.MatchString(cfg.Twilio.AccountSID) {
		return Config{}, fmt.Errorf("configuration: TWILIO_ACCOUNT_SID must be AC followed by 32 hex digits")
	}
	if !twilioToken.MatchString(cfg.Twilio.AuthToken) {
		return Config{}, fmt.Errorf("configuration: TWILIO_AUTH_TOKEN must be 32 letters or digits")
	}
	cfg.SLA = tickets.SLAPolicy{}
	for _, v := range []struct {
		name     string
		priority tickets.Priority
		value    string
	}{
		{"SLA_URGENT", tickets.PriorityUrgent, cfg.SLAUrgent},
		{"SLA_HIGH", tickets.PriorityHigh, cfg.SLAHigh},
		{"SLA_NORMAL", tickets.PriorityNormal, cfg.SLANormal},
		{"SLA_LOW", tickets.PriorityLow, cfg.SLALow},
	} {
		target, err := tickets.ParseSLATarget(v.value)
		if err != nil {
			return Config{}, fmt.Errorf("configuration: %s %w", v.name, err)
		}
		cfg.SLA[v.priority] = target
	}
	return cfg, nil
}
