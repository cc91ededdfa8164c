package auth

import (
	"testing"
	"time"
)

func TestTokenCacheHonoursExpiryAndBound(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 1, 8, 0, 0, 0, time.UTC)
	c := newTokenCache(2, func() time.Time { return now })
	alice := Identity{Subject: "alice", Roles: []Role{RoleAgent}}

	c.put("t1", alice, now.Add(10*time.Second))
	if id, ok := c.get("t1"); !ok || id.Subject != "alice" {
		t.Fatalf("fresh entry: %v, %v", id, ok)
	}
	now = now.Add(10 * time.Second)
	if _, ok := c.get("t1"); ok {
		t.Fatal("a token must not be trusted past its expiry")
	}
	c.put("t2", alice, now.Add(time.Hour))
	now = now.Add(tokenCacheTTL)
	if _, ok := c.get("t2"); ok {
		t.Fatal("a token must be re-verified after the cache TTL")
	}
	for _, tok := range []string{"a", "b", "c"} {
		c.put(tok, alice, now.Add(time.Hour))
	}
	if len(c.entries) > 2 {
		t.Fatalf("cache holds %d entries, bound is 2", len(c.entries))
	}
}
