package auth

import (
	"sync"
	"time"
)

// tokenCacheSize bounds the verified-token cache; a console fleet reuses far fewer tokens.
const tokenCacheSize = 4096

// tokenCacheTTL bounds how long a verified token is trusted without checking its signature
// again; a token is never trusted past its own expiry.
const tokenCacheTTL = time.Minute

// tokenCache remembers tokens whose signature and claims were verified, so the hot path does
// not pay for a signature check on every RPC of a long-lived client. Keys are the exact token
// strings: a token that differs in one byte is verified afresh.
type tokenCache struct {
	mu      sync.Mutex
	entries map[string]cachedIdentity
	max     int
	now     func() time.Time
}

type cachedIdentity struct {
	id    Identity
	until time.Time
}

func newTokenCache(maxEntries int, now func() time.Time) *tokenCache {
	return &tokenCache{entries: make(map[string]cachedIdentity), max: maxEntries, now: now}
}

func (c *tokenCache) get(token string) (Identity, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[token]
	if !ok {
		return Identity{}, false
	}
	if !c.now().Before(e.until) {
		delete(c.entries, token)
		return Identity{}, false
	}
	return e.id, true
}

func (c *tokenCache) put(token string, id Identity, expires time.Time) {
	until := c.now().Add(tokenCacheTTL)
	if expires.Before(until) {
		until = expires
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= c.max {
		// Dropping everything is crude but bounded and rare: the next requests re-verify.
		clear(c.entries)
	}
	c.entries[token] = cachedIdentity{id: id, until: until}
}
