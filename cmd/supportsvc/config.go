package main

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/lumio/contactcentre/internal/bootstrap"
	"github.com/lumio/contactcentre/internal/recording"
	"github.com/lumio/contactcentre/internal/recording/recordingtwilio"
	"github.com/lumio/contactcentre/internal/tickets"
)

// Config is supportsvc's whole configuration, from the environment (names as in API.md).
type Config struct {
	bootstrap.Config
	GRPCAddr  string `env:"SUPPORTSVC_GRPC_ADDR, default=127.0.0.1:9090"`
	HTTPAddr  string `env:"SUPPORTSVC_HTTP_ADDR, default=127.0.0.1:8080"`
	PublicURL string `env:"SUPPORTSVC_PUBLIC_URL, required"`
	Twilio    TwilioConfig
	Recording RecordingConfig
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

// carrier returns the Twilio adapter's settings; Twilio signs webhooks against publicURL.
func (c TwilioConfig) carrier(publicURL string) recordingtwilio.Config {
	return recordingtwilio.Config{AccountSID: c.AccountSID, AuthToken: c.AuthToken, APIBaseURL: c.APIBaseURL, PublicURL: publicURL}
}

// RecordingConfig places and paces call recordings.
type RecordingConfig struct {
	// Store is fs (a directory, the default) or s3 (any S3-compatible store; credentials come
	// from the AWS SDK's default chain).
	Store          string        `env:"RECORDING_STORE, default=fs"`
	Dir            string        `env:"RECORDING_DIR, default=.data/recordings"`
	S3Bucket       string        `env:"RECORDING_S3_BUCKET"`
	S3Region       string        `env:"RECORDING_S3_REGION"`
	S3Endpoint     string        `env:"RECORDING_S3_ENDPOINT"`
	S3Prefix       string        `env:"RECORDING_S3_PREFIX, default=recordings/"`
	Retention      time.Duration `env:"RECORDING_RETENTION, default=2160h"`
	URLTTL         time.Duration `env:"RECORDING_URL_TTL, default=5m"`
	DeclineDigit   string        `env:"RECORDING_DECLINE_DIGIT, default=9"`
	SweepEvery     time.Duration `env:"RECORDING_SWEEP_EVERY, default=1m"`
	ReconcileEvery time.Duration `env:"RECORDING_RECONCILE_EVERY, default=15m"`
}

// Config returns the recording service's settings.
func (c RecordingConfig) Config() recording.Config {
	cfg := recording.DefaultConfig()
	cfg.DeclineDigit, cfg.Retention, cfg.URLTTL = c.DeclineDigit, c.Retention, c.URLTTL
	cfg.SweepEvery, cfg.ReconcileEvery = c.SweepEvery, c.ReconcileEvery
	return cfg
}

func (c RecordingConfig) validate() error {
	switch {
	case c.Store != "fs" && c.Store != "s3":
		return errors.New("configuration: RECORDING_STORE must be fs or s3")
	case c.Store == "s3" && (c.S3Bucket == "" || c.S3Region == ""):
		return errors.New("configuration: RECORDING_S3_BUCKET and RECORDING_S3_REGION are required with RECORDING_STORE=s3")
	case len(c.DeclineDigit) != 1 || !strings.ContainsAny(c.DeclineDigit, "0123456789*#"):
		return errors.New("configuration: RECORDING_DECLINE_DIGIT must be one key: 0-9, * or #")
	case c.Retention <= 0 || c.URLTTL <= 0 || c.SweepEvery <= 0 || c.ReconcileEvery <= 0:
		return errors.New("configuration: RECORDING_RETENTION, _URL_TTL, _SWEEP_EVERY and _RECONCILE_EVERY must be positive")
	}
	return nil
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
	if err := cfg.Recording.validate(); err != nil {
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
