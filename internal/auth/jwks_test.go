package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/lumio/contactcentre/internal/apperr"
)

// issuer is a fake identity provider: it serves a JWKS and signs tokens with its keys.
type issuer struct {
	srv     *httptest.Server
	fetches atomic.Int32
	mu      sync.Mutex
	keys    []map[string]string
}

func newIssuer(t *testing.T) *issuer {
	t.Helper()
	is := &issuer{}
	is.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		is.fetches.Add(1)
		is.mu.Lock()
		defer is.mu.Unlock()
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": is.keys})
	}))
	t.Cleanup(is.srv.Close)
	return is
}

func (is *issuer) publish(jwk map[string]string) {
	is.mu.Lock()
	defer is.mu.Unlock()
	is.keys = append(is.keys, jwk)
}

func enc(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func signWithKid(t *testing.T, m jwt.SigningMethod, key any, kid string) string {
	t.Helper()
	tok := jwt.NewWithClaims(m, validClaims(time.Now()))
	tok.Header["kid"] = kid
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// jwksSetup returns a verifier with a controllable clock against an issuer that publishes an
// Ed25519, an RSA and a P-256 key, and the private keys.
func jwksSetup(t *testing.T) (*jwksVerifier, *issuer, *atomic.Pointer[time.Time], map[string]any) {
	t.Helper()
	is := newIssuer(t)
	edPub, edPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rsaPriv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecPriv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecPoint, err := ecPriv.PublicKey.Bytes() // 0x04 || X || Y
	if err != nil {
		t.Fatal(err)
	}
	is.publish(map[string]string{"kty": "OKP", "crv": "Ed25519", "kid": "ed", "use": "sig", "x": enc(edPub)})
	is.publish(map[string]string{"kty": "RSA", "kid": "rsa", "alg": "RS256",
		"n": enc(rsaPriv.N.Bytes()), "e": enc(big.NewInt(int64(rsaPriv.E)).Bytes())})
	is.publish(map[string]string{"kty": "EC", "crv": "P-256", "kid": "ec",
		"x": enc(ecPoint[1:33]), "y": enc(ecPoint[33:])})
	// Keys the verifier must skip without rejecting the set.
	is.publish(map[string]string{"kty": "RSA", "kid": "enc", "use": "enc", "n": enc(rsaPriv.N.Bytes()), "e": "AQAB"})
	is.publish(map[string]string{"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"})

	v := NewJWKSVerifier(is.srv.URL, testIssuer, testAudience, is.srv.Client()).(*jwksVerifier)
	var clock atomic.Pointer[time.Time]
	start := time.Now()
	clock.Store(&start)
	v.now = func() time.Time { return *clock.Load() }
	return v, is, &clock, map[string]any{"ed": edPriv, "rsa": rsaPriv, "ec": ecPriv}
}

func TestJWKSVerifierAcceptsEachKeyType(t *testing.T) {
	t.Parallel()
	v, is, _, priv := jwksSetup(t)
	tokens := map[string]string{
		"EdDSA": signWithKid(t, jwt.SigningMethodEdDSA, priv["ed"], "ed"),
		"RS256": signWithKid(t, jwt.SigningMethodRS256, priv["rsa"], "rsa"),
		"ES256": signWithKid(t, jwt.SigningMethodES256, priv["ec"], "ec"),
	}
	for alg, tok := range tokens {
		id, err := v.Verify(context.Background(), tok)
		if err != nil {
			t.Errorf("%s: Verify: %v", alg, err)
			continue
		}
		if id.Subject != "alice" || !id.Has(RoleAgent) {
			t.Errorf("%s: identity = %+v", alg, id)
		}
	}
	if n := is.fetches.Load(); n != 1 {
		t.Errorf("JWKS fetched %d times, want 1 (keys are cached)", n)
	}
}

func TestJWKSVerifierRejects(t *testing.T) {
	t.Parallel()
	v, _, _, priv := jwksSetup(t)
	tests := map[string]string{
		"unknown kid":     signWithKid(t, jwt.SigningMethodEdDSA, priv["ed"], "nope"),
		"no kid":          rawToken(t, jwt.SigningMethodEdDSA, priv["ed"], validClaims(time.Now())),
		"key of other":    signWithKid(t, jwt.SigningMethodEdDSA, priv["ed"], "rsa"),
		"PS256 not valid": signWithKid(t, jwt.SigningMethodPS256, priv["rsa"], "rsa"),
		"RS512 not valid": signWithKid(t, jwt.SigningMethodRS512, priv["rsa"], "rsa"),
		"encryption key":  signWithKid(t, jwt.SigningMethodRS256, priv["rsa"], "enc"),
	}
	for name, tok := range tests {
		if _, err := v.Verify(context.Background(), tok); !errors.Is(err, apperr.ErrUnauthenticated) {
			t.Errorf("%s: Verify error = %v, want ErrUnauthenticated", name, err)
		}
	}
}

func TestJWKSVerifierRefetchesUnknownKidAtMostOncePerMinute(t *testing.T) {
	t.Parallel()
	v, is, clock, _ := jwksSetup(t)
	_, rotated, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tok := signWithKid(t, jwt.SigningMethodEdDSA, rotated, "rotated")

	for range 5 {
		if _, err := v.Verify(context.Background(), tok); !errors.Is(err, apperr.ErrUnauthenticated) {
			t.Fatalf("unpublished kid: Verify error = %v, want ErrUnauthenticated", err)
		}
	}
	if n := is.fetches.Load(); n != 1 {
		t.Fatalf("JWKS fetched %d times for a burst of unknown kids, want 1", n)
	}

	// The issuer rotates; within the minute we still refuse, after it we pick the key up.
	is.publish(map[string]string{"kty": "OKP", "crv": "Ed25519", "kid": "rotated",
		"x": enc(rotated.Public().(ed25519.PublicKey))})
	if _, err := v.Verify(context.Background(), tok); err == nil {
		t.Fatal("refetched within a minute of the last fetch")
	}
	later := clock.Load().Add(jwksMinRefetch + time.Second)
	clock.Store(&later)
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Fatalf("rotated key not picked up after a minute: %v", err)
	}
	if n := is.fetches.Load(); n != 2 {
		t.Errorf("JWKS fetched %d times, want 2", n)
	}
}

func TestNewVerifier(t *testing.T) {
	t.Parallel()
	base := Config{Issuer: "iss", Audience: "aud", DevKeyFile: filepath.Join(t.TempDir(), "k.pem")}

	v, err := NewVerifier(base)
	if err != nil {
		t.Fatalf("dev verifier: %v", err)
	}
	key, err := LoadOrCreateDevKey(base.DevKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := SignToken(key, "iss", "aud", "dev-sales", []Role{RoleSales}, time.Minute, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Errorf("dev verifier rejects a token signed with the key file: %v", err)
	}

	for url, ok := range map[string]bool{
		"https://idp.example.com/.well-known/jwks.json": true,
		"http://127.0.0.1:8443/jwks":                    true,
		"http://localhost/jwks":                         true,
		"http://[::1]/jwks":                             true,
		"http://idp.example.com/jwks":                   false,
		"ftp://idp.example.com/jwks":                    false,
		"/jwks":                                         false,
	} {
		cfg := base
		cfg.JWKSURL = url
		_, err := NewVerifier(cfg)
		if ok != (err == nil) {
			t.Errorf("NewVerifier(JWKSURL=%s) error = %v, want ok=%v", url, err, ok)
		}
	}
}
