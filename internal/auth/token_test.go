package auth

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/go-cmp/cmp"

	"github.com/lumio/contactcentre/internal/apperr"
)

const (
	testIssuer   = "test-issuer"
	testAudience = "test-audience"
)

func newKey(t *testing.T) ed25519.PrivateKey {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return priv
}

// rawToken signs arbitrary claims, for tokens SignToken refuses to make.
func rawToken(t *testing.T, m jwt.SigningMethod, key any, c jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(m, c).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func validClaims(now time.Time) jwt.MapClaims {
	return jwt.MapClaims{
		"iss": testIssuer, "aud": testAudience, "sub": "alice",
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(), "roles": []string{"agent"},
	}
}

func with(c jwt.MapClaims, k string, v any) jwt.MapClaims {
	out := jwt.MapClaims{}
	for kk, vv := range c {
		out[kk] = vv
	}
	if v == nil {
		delete(out, k)
	} else {
		out[k] = v
	}
	return out
}

func TestSignVerifyRoundTrip(t *testing.T) {
	t.Parallel()
	priv := newKey(t)
	v := NewDevVerifier(priv.Public().(ed25519.PublicKey), testIssuer, testAudience)
	tok, err := SignToken(priv, testIssuer, testAudience, "dev-agent", []Role{RoleAgent, RoleFinance}, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	got, err := v.Verify(context.Background(), tok)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	want := Identity{Subject: "dev-agent", Roles: []Role{RoleAgent, RoleFinance}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("identity (-want +got):\n%s", diff)
	}
}

func TestSignTokenRejectsBadInput(t *testing.T) {
	t.Parallel()
	priv := newKey(t)
	now := time.Now()
	cases := map[string]error{}
	_, cases["unknown role"] = SignToken(priv, testIssuer, testAudience, "s", []Role{"root"}, time.Hour, now)
	_, cases["no subject"] = SignToken(priv, testIssuer, testAudience, "", []Role{RoleAgent}, time.Hour, now)
	_, cases["zero ttl"] = SignToken(priv, testIssuer, testAudience, "s", []Role{RoleAgent}, 0, now)
	_, cases["bad key"] = SignToken(priv[:10], testIssuer, testAudience, "s", []Role{RoleAgent}, time.Hour, now)
	for name, err := range cases {
		if err == nil {
			t.Errorf("%s: SignToken succeeded, want error", name)
		}
	}
}

func TestVerifyRejects(t *testing.T) {
	t.Parallel()
	priv := newKey(t)
	other := newKey(t)
	pub := priv.Public().(ed25519.PublicKey)
	v := NewDevVerifier(pub, testIssuer, testAudience)
	now := time.Now()
	good := rawToken(t, jwt.SigningMethodEdDSA, priv, validClaims(now))

	// Flip one character of the signature.
	last := good[len(good)-2]
	flipped := byte('A')
	if last == 'A' {
		flipped = 'B'
	}
	tampered := good[:len(good)-2] + string(flipped) + good[len(good)-1:]
	// Swap in a payload granting admin, keeping the original signature.
	parts := strings.Split(good, ".")
	forged := strings.Split(rawToken(t, jwt.SigningMethodEdDSA, other, with(validClaims(now), "roles", []string{"admin"})), ".")
	spliced := parts[0] + "." + forged[1] + "." + parts[2]

	tests := map[string]string{
		"empty":           "",
		"garbage":         "not.a.jwt",
		"wrong issuer":    rawToken(t, jwt.SigningMethodEdDSA, priv, with(validClaims(now), "iss", "evil")),
		"wrong audience":  rawToken(t, jwt.SigningMethodEdDSA, priv, with(validClaims(now), "aud", "other")),
		"expired":         rawToken(t, jwt.SigningMethodEdDSA, priv, with(validClaims(now), "exp", now.Add(-time.Minute).Unix())),
		"no exp":          rawToken(t, jwt.SigningMethodEdDSA, priv, with(validClaims(now), "exp", nil)),
		"issued later":    rawToken(t, jwt.SigningMethodEdDSA, priv, with(validClaims(now), "iat", now.Add(time.Hour).Unix())),
		"no subject":      rawToken(t, jwt.SigningMethodEdDSA, priv, with(validClaims(now), "sub", nil)),
		"unknown role":    rawToken(t, jwt.SigningMethodEdDSA, priv, with(validClaims(now), "roles", []string{"agent", "superuser"})),
		"other key":       rawToken(t, jwt.SigningMethodEdDSA, other, validClaims(now)),
		"alg none":        rawToken(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, with(validClaims(now), "roles", []string{"admin"})),
		"alg HS256":       rawToken(t, jwt.SigningMethodHS256, []byte(pub), validClaims(now)),
		"tampered":        tampered,
		"spliced payload": spliced,
		"oversized":       strings.Repeat("a", maxTokenBytes+1),
	}
	for name, tok := range tests {
		_, err := v.Verify(context.Background(), tok)
		if !errors.Is(err, apperr.ErrUnauthenticated) {
			t.Errorf("%s: Verify error = %v, want ErrUnauthenticated", name, err)
			continue
		}
		if tok != "" && len(tok) > 8 && strings.Contains(err.Error(), tok[:8]) {
			t.Errorf("%s: error %q quotes the token", name, err)
		}
	}
	if _, err := v.Verify(context.Background(), good); err != nil {
		t.Fatalf("control token rejected: %v", err)
	}
}

func TestVerifyAllowsClockSkew(t *testing.T) {
	t.Parallel()
	priv := newKey(t)
	v := NewDevVerifier(priv.Public().(ed25519.PublicKey), testIssuer, testAudience)
	now := time.Now()
	// Expired 10s ago and issued 10s in the future: both within the 30s leeway.
	c := with(with(validClaims(now), "exp", now.Add(-10*time.Second).Unix()), "iat", now.Add(10*time.Second).Unix())
	if _, err := v.Verify(context.Background(), rawToken(t, jwt.SigningMethodEdDSA, priv, c)); err != nil {
		t.Errorf("Verify within leeway: %v", err)
	}
}
