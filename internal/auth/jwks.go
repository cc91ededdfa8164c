package auth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const (
	// jwksMinRefetch stops tokens with made-up kids from turning us into a load generator
	// against the issuer.
	jwksMinRefetch = time.Minute
	// jwksMaxAge makes rotated-out keys disappear even when no unknown kid shows up.
	jwksMaxAge    = time.Hour
	jwksTimeout   = 10 * time.Second
	jwksMaxBytes  = 1 << 20
	minRSAKeyBits = 2048
)

// jwksVerifier verifies tokens against the keys an issuer publishes at a JWKS URL.
type jwksVerifier struct {
	*verifier
	url    string
	client *http.Client
	now    func() time.Time

	fetchMu sync.Mutex // serialises fetches so a burst of unknown kids costs one request
	mu      sync.RWMutex
	keys    map[string]jwk
	fetched time.Time // last successful fetch
	tried   time.Time // last attempt, successful or not
}

// jwk is one usable key from the set.
type jwk struct {
	key crypto.PublicKey
	alg string // the algorithm the set pins the key to, if any
}

// NewJWKSVerifier returns a Verifier for RS256, ES256 and EdDSA tokens signed by keys from the
// JWKS at jwksURL. Keys are cached by kid; an unknown kid triggers a refetch at most once a
// minute. client may be nil for a default with a timeout.
func NewJWKSVerifier(jwksURL, issuer, audience string, client *http.Client) Verifier {
	if client == nil {
		client = &http.Client{Timeout: jwksTimeout}
	}
	v := &jwksVerifier{url: jwksURL, client: client, now: time.Now}
	algs := []string{jwt.SigningMethodRS256.Alg(), jwt.SigningMethodES256.Alg(), jwt.SigningMethodEdDSA.Alg()}
	v.verifier = newVerifier(issuer, audience, algs, v.keyFor)
	return v
}

func (v *jwksVerifier) keyFor(ctx context.Context, t *jwt.Token) (any, error) {
	kid, _ := t.Header["kid"].(string)
	if kid == "" {
		return nil, errors.New("token has no kid")
	}
	k, ok := v.lookup(ctx, kid)
	if !ok {
		return nil, errors.New("unknown kid")
	}
	// The library checks that the key's type suits the algorithm; a set that pins the
	// algorithm must also be obeyed, or an RSA key could be used under a different RS*.
	if k.alg != "" && k.alg != t.Method.Alg() {
		return nil, errors.New("algorithm does not match the key")
	}
	return k.key, nil
}

func (v *jwksVerifier) lookup(ctx context.Context, kid string) (jwk, bool) {
	if k, ok, fresh := v.cached(kid); ok && fresh {
		return k, true
	}
	v.fetchMu.Lock()
	defer v.fetchMu.Unlock()
	k, ok, fresh := v.cached(kid) // another caller may have fetched while we waited
	if ok && fresh {
		return k, true
	}
	v.mu.RLock()
	recent := v.now().Sub(v.tried) < jwksMinRefetch
	v.mu.RUnlock()
	if recent {
		return k, ok
	}
	// The fetch outlives a cancelled RPC: its result serves every caller, and abandoning it
	// would still spend the once-a-minute allowance.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), jwksTimeout)
	defer cancel()
	keys, err := v.fetch(fctx)
	v.mu.Lock()
	defer v.mu.Unlock()
	v.tried = v.now()
	if err == nil {
		v.keys, v.fetched = keys, v.tried
	}
	// On a failed fetch keep serving the old keys: an issuer outage should not log everyone out.
	k, ok = v.keys[kid]
	return k, ok
}

func (v *jwksVerifier) cached(kid string) (k jwk, ok, fresh bool) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	k, ok = v.keys[kid]
	return k, ok, v.now().Sub(v.fetched) < jwksMaxAge
}

func (v *jwksVerifier) fetch(ctx context.Context) (map[string]jwk, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, v.url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := v.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("jwks: HTTP %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, jwksMaxBytes))
	if err != nil {
		return nil, err
	}
	return parseJWKS(body)
}

// rawJWK holds the RFC 7517/7518/8037 members we use.
type rawJWK struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
	N   string `json:"n"`
	E   string `json:"e"`
}

// parseJWKS returns the set's signing keys by kid. Keys we cannot use (encryption keys, other
// curves, no kid) are skipped rather than failing the set, so that an issuer adding a new key
// type does not lock everyone out.
func parseJWKS(body []byte) (map[string]jwk, error) {
	var set struct {
		Keys []rawJWK `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, fmt.Errorf("jwks: %w", err)
	}
	keys := make(map[string]jwk, len(set.Keys))
	for _, raw := range set.Keys {
		if raw.Kid == "" || (raw.Use != "" && raw.Use != "sig") {
			continue
		}
		pub, err := raw.publicKey()
		if err != nil {
			continue
		}
		keys[raw.Kid] = jwk{key: pub, alg: raw.Alg}
	}
	return keys, nil
}

func (r rawJWK) publicKey() (crypto.PublicKey, error) {
	switch {
	case r.Kty == "OKP" && r.Crv == "Ed25519":
		x, err := b64(r.X)
		if err != nil || len(x) != ed25519.PublicKeySize {
			return nil, errors.New("bad Ed25519 key")
		}
		return ed25519.PublicKey(x), nil
	case r.Kty == "RSA":
		n, err := b64(r.N)
		if err != nil {
			return nil, err
		}
		e, err := b64(r.E)
		if err != nil || len(e) == 0 || len(e) > 4 {
			return nil, errors.New("bad RSA exponent")
		}
		pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
		if pub.N.BitLen() < minRSAKeyBits || pub.E < 3 || pub.E%2 == 0 {
			return nil, errors.New("weak RSA key")
		}
		return pub, nil
	case r.Kty == "EC" && r.Crv == "P-256":
		x, errX := b64(r.X)
		y, errY := b64(r.Y)
		if errX != nil || errY != nil || len(x) != 32 || len(y) != 32 {
			return nil, errors.New("bad P-256 key")
		}
		// ParseUncompressedPublicKey rejects points that are not on the curve.
		return ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
	default:
		return nil, errors.New("unsupported key type")
	}
}

func b64(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(s) }
