package auth

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"net"
	"net/url"
)

// Config selects how tokens are verified. With JWKSURL empty the services accept tokens signed
// by the development key at DevKeyFile (what `ccctl token` mints).
type Config struct {
	JWKSURL    string `env:"AUTH_JWKS_URL"`
	Issuer     string `env:"AUTH_ISSUER, default=contactcentre-dev"`
	Audience   string `env:"AUTH_AUDIENCE, default=contactcentre"`
	DevKeyFile string `env:"AUTH_DEV_KEY_FILE, default=.data/dev-signing-key.pem"`
}

// NewVerifier returns the JWKS verifier when cfg.JWKSURL is set, otherwise the development
// verifier, creating the development key if needed.
func NewVerifier(cfg Config) (Verifier, error) {
	if cfg.Issuer == "" || cfg.Audience == "" {
		return nil, errors.New("AUTH_ISSUER and AUTH_AUDIENCE must not be empty")
	}
	if cfg.JWKSURL != "" {
		if err := checkJWKSURL(cfg.JWKSURL); err != nil {
			return nil, err
		}
		return NewJWKSVerifier(cfg.JWKSURL, cfg.Issuer, cfg.Audience, nil), nil
	}
	key, err := LoadOrCreateDevKey(cfg.DevKeyFile)
	if err != nil {
		return nil, err
	}
	return NewDevVerifier(key.Public().(ed25519.PublicKey), cfg.Issuer, cfg.Audience), nil
}

// checkJWKSURL insists on https, because whoever can alter the key set can mint any identity.
// Plain http is allowed only to a loopback host, for tests and local issuers.
func checkJWKSURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return errors.New("AUTH_JWKS_URL must be an absolute URL")
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		host := u.Hostname()
		if ip := net.ParseIP(host); host == "localhost" || (ip != nil && ip.IsLoopback()) {
			return nil
		}
	}
	return fmt.Errorf("AUTH_JWKS_URL must use https (http only for a loopback host)")
}
