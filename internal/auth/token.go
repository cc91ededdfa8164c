package auth

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/lumio/contactcentre/internal/apperr"
)

// Verifier turns a bearer token into the caller's Identity.
type Verifier interface {
	// Verify checks the token (without the "Bearer " prefix) and returns the identity it
	// proves. Every failure wraps apperr.ErrUnauthenticated.
	Verify(ctx context.Context, bearer string) (Identity, error)
}

const (
	// leeway absorbs clock skew between the issuer and us.
	leeway = 30 * time.Second
	// maxTokenBytes bounds the work an unauthenticated caller can make us do.
	maxTokenBytes = 16 << 10
)

// claims is the token body: the registered claims plus the caller's roles.
type claims struct {
	jwt.RegisteredClaims
	Roles []string `json:"roles"`
}

// SignToken returns a compact JWT for subject with roles, signed with the development key.
// Production tokens come from the configured issuer, never from here.
func SignToken(priv ed25519.PrivateKey, issuer, audience, subject string, roles []Role, ttl time.Duration, now time.Time) (string, error) {
	if len(priv) != ed25519.PrivateKeySize {
		return "", errors.New("sign token: invalid ed25519 private key")
	}
	if subject == "" {
		return "", errors.New("sign token: subject is required")
	}
	if ttl <= 0 {
		return "", errors.New("sign token: ttl must be positive")
	}
	names := make([]string, len(roles))
	for i, r := range roles {
		if _, err := ParseRole(string(r)); err != nil {
			return "", fmt.Errorf("sign token: %w", err)
		}
		names[i] = string(r)
	}
	c := claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    issuer,
			Subject:   subject,
			Audience:  jwt.ClaimStrings{audience},
			ExpiresAt: jwt.NewNumericDate(now.Add(ttl)),
			IssuedAt:  jwt.NewNumericDate(now),
		},
		Roles: names,
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodEdDSA, c).SignedString(priv)
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	return s, nil
}

// keyFunc finds the key that should have signed t.
type keyFunc func(ctx context.Context, t *jwt.Token) (any, error)

// verifier holds what both verifiers share: a parser pinned to the issuer, audience and
// algorithms, and a way to find the signing key.
type verifier struct {
	parser *jwt.Parser
	key    keyFunc
	cache  *tokenCache
}

func newVerifier(issuer, audience string, algs []string, key keyFunc) *verifier {
	return &verifier{
		parser: jwt.NewParser(
			jwt.WithValidMethods(algs),
			jwt.WithIssuer(issuer),
			jwt.WithAudience(audience),
			jwt.WithExpirationRequired(),
			jwt.WithIssuedAt(),
			jwt.WithLeeway(leeway),
			jwt.WithStrictDecoding(),
		),
		key:   key,
		cache: newTokenCache(tokenCacheSize, time.Now),
	}
}

// Verify implements Verifier.
func (v *verifier) Verify(ctx context.Context, bearer string) (Identity, error) {
	if bearer == "" || len(bearer) > maxTokenBytes {
		return Identity{}, unauthenticated("malformed token")
	}
	if id, ok := v.cache.get(bearer); ok {
		return id, nil
	}
	var c claims
	_, err := v.parser.ParseWithClaims(bearer, &c, func(t *jwt.Token) (any, error) { return v.key(ctx, t) })
	if err != nil {
		return Identity{}, unauthenticated(reason(err))
	}
	if c.Subject == "" {
		return Identity{}, unauthenticated("token has no subject")
	}
	id := Identity{Subject: c.Subject, Roles: make([]Role, 0, len(c.Roles))}
	for _, name := range c.Roles {
		r, err := ParseRole(name)
		if err != nil {
			// A role we do not know is a token we do not understand: refuse it rather than
			// guess at what the issuer meant.
			return Identity{}, unauthenticated("token names an unknown role")
		}
		id.Roles = append(id.Roles, r)
	}
	if c.ExpiresAt != nil {
		v.cache.put(bearer, id, c.ExpiresAt.Time)
	}
	return id, nil
}

// NewDevVerifier returns a Verifier for tokens signed (EdDSA) by the development key.
func NewDevVerifier(pub ed25519.PublicKey, issuer, audience string) Verifier {
	return newVerifier(issuer, audience, []string{jwt.SigningMethodEdDSA.Alg()},
		func(context.Context, *jwt.Token) (any, error) { return pub, nil })
}

func unauthenticated(why string) error {
	return fmt.Errorf("%w: %s", apperr.ErrUnauthenticated, why)
}

// reason names what was wrong with a token in fixed words: the library's own messages can
// quote parts of the token, which must not reach logs or callers.
func reason(err error) string {
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return "token expired"
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return "token not valid yet"
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return "token from another issuer"
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return "token for another audience"
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return "token lacks a required claim"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid), errors.Is(err, jwt.ErrTokenUnverifiable):
		return "token signature not verified"
	case errors.Is(err, jwt.ErrTokenMalformed):
		return "malformed token"
	default:
		return "invalid token"
	}
}
