package main

import (
	"context"
	"fmt"
	"regexp"
	"time"

	"github.com/lumio/contactcentre/internal/billing"
	"github.com/lumio/contactcentre/internal/bootstrap"
	"github.com/lumio/contactcentre/internal/privacy"
)

// Config is ordersvc's whole configuration, from the environment (names as in API.md).
type Config struct {
	bootstrap.Config
	GRPCAddr string        `env:"ORDERSVC_GRPC_ADDR, default=127.0.0.1:9091"`
	HTTPAddr string        `env:"ORDERSVC_HTTP_ADDR, default=127.0.0.1:8081"`
	StripeUS StripeAccount `env:", prefix=STRIPE_US_"`
	StripeIE StripeAccount `env:", prefix=STRIPE_IE_"`
	// StripeAPIBaseURL replaces https://api.stripe.com (tests and make run use stripe-mock).
	StripeAPIBaseURL string `env:"STRIPE_API_BASE_URL, default=https://api.stripe.com"`
	// RetentionOverrides lengthens the 7-year retention of orders per country, as "DE=10,FR=10".
	RetentionOverrides string `env:"ORDER_RETENTION_OVERRIDES"`
	// Retention is parsed from RetentionOverrides.
	Retention billing.RetentionPolicy
	Privacy   PrivacyConfig
}

// PrivacyConfig paces erasure and the purge of held data.
type PrivacyConfig struct {
	Lease       time.Duration `env:"ERASURE_LEASE, default=1m"`
	ResumeEvery time.Duration `env:"ERASURE_RESUME_EVERY, default=30s"`
	StepTimeout time.Duration `env:"ERASURE_STEP_TIMEOUT, default=2m"`
	Batch       int           `env:"ERASURE_BATCH, default=20"`
	PurgeEvery  time.Duration `env:"RETENTION_PURGE_EVERY, default=1h"`
}

func (c PrivacyConfig) config() privacy.Config {
	return privacy.Config{Lease: c.Lease, ResumeEvery: c.ResumeEvery, PurgeEvery: c.PurgeEvery, Batch: c.Batch, StepTimeout: c.StepTimeout}
}

// StripeAccount is one Stripe entity's keys: each entity has its own account and secrets.
type StripeAccount struct {
	SecretKey      string `env:"SECRET_KEY, required" json:"-"`
	PublishableKey string `env:"PUBLISHABLE_KEY, required"`
	WebhookSecret  string `env:"WEBHOOK_SECRET, required" json:"-"`
}

var (
	stripeSecret      = regexp.MustCompile(`^(sk|rk)_(test|live)_[0-9A-Za-z]+$`)
	stripePublishable = regexp.MustCompile(`^pk_(test|live)_[0-9A-Za-z]+$`)
	stripeWebhook     = regexp.MustCompile(`^whsec_[0-9A-Za-z+/=]+$`)
)

func loadConfig(ctx context.Context, lookup func(string) (string, bool)) (Config, error) {
	var cfg Config
	if err := bootstrap.Load(ctx, lookup, &cfg); err != nil {
		return Config{}, err
	}
	if err := bootstrap.CheckURL("STRIPE_API_BASE_URL", cfg.StripeAPIBaseURL); err != nil {
		return Config{}, err
	}
	for prefix, acct := range map[string]StripeAccount{"STRIPE_US_": cfg.StripeUS, "STRIPE_IE_": cfg.StripeIE} {
		switch {
		case !stripeSecret.MatchString(acct.SecretKey):
			return Config{}, fmt.Errorf("configuration: %sSECRET_KEY must look like sk_test_… or sk_live_…", prefix)
		case !stripePublishable.MatchString(acct.PublishableKey):
			return Config{}, fmt.Errorf("configuration: %sPUBLISHABLE_KEY must look like pk_test_… or pk_live_…", prefix)
		case !stripeWebhook.MatchString(acct.WebhookSecret):
			return Config{}, fmt.Errorf("configuration: %sWEBHOOK_SECRET must look like whsec_…", prefix)
		}
	}
	if cfg.StripeUS.SecretKey == cfg.StripeIE.SecretKey {
		// Exactly one entity per payment only holds if the entities are different accounts.
		return Config{}, fmt.Errorf("configuration: STRIPE_US_SECRET_KEY and STRIPE_IE_SECRET_KEY must differ")
	}
	if cfg.Privacy.Lease <= 0 || cfg.Privacy.ResumeEvery <= 0 || cfg.Privacy.StepTimeout <= 0 || cfg.Privacy.PurgeEvery <= 0 || cfg.Privacy.Batch <= 0 {
		return Config{}, fmt.Errorf("configuration: ERASURE_LEASE, ERASURE_RESUME_EVERY, ERASURE_STEP_TIMEOUT, ERASURE_BATCH and RETENTION_PURGE_EVERY must be positive")
	}
	cfg.Retention = billing.DefaultRetention()
	overrides, err := billing.ParseRetentionOverrides(cfg.RetentionOverrides)
	if err != nil {
		return Config{}, fmt.Errorf("configuration: ORDER_RETENTION_OVERRIDES %w", err)
	}
	cfg.Retention.Overrides = overrides
	return cfg, nil
}
