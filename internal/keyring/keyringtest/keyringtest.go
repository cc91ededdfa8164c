// Package keyringtest makes keyrings for tests: a fresh random master key each time.
package keyringtest

import (
	"crypto/rand"
	"encoding/base64"
	"testing"

	"github.com/lumio/contactcentre/internal/keyring"
)

// New returns a keyring with a random master key.
func New(t testing.TB) *keyring.Keyring {
	t.Helper()
	raw := make([]byte, keyring.KeySize)
	if _, err := rand.Read(raw); err != nil {
		t.Fatal(err)
	}
	kr, err := keyring.New(keyring.Config{MasterKey: base64.StdEncoding.EncodeToString(raw), MasterKeyID: "test-1"})
	if err != nil {
		t.Fatal(err)
	}
	return kr
}
