package keyring_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"testing"

	"github.com/lumio/contactcentre/internal/keyring"
	"github.com/lumio/contactcentre/internal/keyring/keyringtest"
)

func TestDataKeyRoundTrip(t *testing.T) {
	t.Parallel()
	kr := keyringtest.New(t)
	dk, wrapped, err := kr.NewDataKey("k1")
	if err != nil {
		t.Fatal(err)
	}
	aad := keyring.AAD("tickets", "subject", "t1")
	ct := dk.Seal("Printer on fire", aad)
	if bytes.Contains(ct, []byte("Printer")) {
		t.Fatal("ciphertext contains plaintext")
	}
	again, err := kr.Unwrap("k1", kr.MasterKeyID(), wrapped)
	if err != nil {
		t.Fatal(err)
	}
	got, err := again.Open(ct, aad)
	if err != nil || got != "Printer on fire" {
		t.Fatalf("Open = %q, %v", got, err)
	}
	if _, err := again.Open(ct, keyring.AAD("tickets", "subject", "t2")); err == nil {
		t.Fatal("a ciphertext moved to another record must not open")
	}
	if _, err := kr.Unwrap("k2", kr.MasterKeyID(), wrapped); err == nil {
		t.Fatal("a wrapped key must be bound to its id")
	}
	if _, err := kr.Unwrap("k1", kr.MasterKeyID(), nil); !errors.Is(err, keyring.ErrKeyDestroyed) {
		t.Fatalf("destroyed key: got %v", err)
	}
	if ct := dk.Seal("", aad); ct != nil {
		t.Fatal("empty plaintext must seal to nil")
	}
	if s, err := dk.Open(nil, aad); s != "" || err != nil {
		t.Fatalf("Open(nil) = %q, %v", s, err)
	}
}

func TestOtherMasterKeyCannotUnwrap(t *testing.T) {
	t.Parallel()
	a, b := keyringtest.New(t), keyringtest.New(t)
	_, wrapped, err := a.NewDataKey("k1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Unwrap("k1", b.MasterKeyID(), wrapped); err == nil {
		t.Fatal("another master key unwrapped the data key")
	}
}

func TestNewRejectsBadMasterKey(t *testing.T) {
	t.Parallel()
	for _, key := range []string{"", "not base64!", base64.StdEncoding.EncodeToString([]byte("short"))} {
		if _, err := keyring.New(keyring.Config{MasterKey: key, MasterKeyID: "x"}); err == nil {
			t.Errorf("New accepted master key %q", key)
		}
	}
}

func TestIndexAndSearchTokens(t *testing.T) {
	t.Parallel()
	kr := keyringtest.New(t)
	if !bytes.Equal(kr.Index("email", " Help@School.example "), kr.Index("email", "help@school.example")) {
		t.Fatal("index must normalise case and space")
	}
	if bytes.Equal(kr.Index("email", "a@b.c"), kr.Index("phone", "a@b.c")) {
		t.Fatal("fields must not share a hash space")
	}
	toks := kr.SearchTokens("Printer on FIRE", "the printer is on fire, again!")
	// printer, on, fire, the, is, again
	if len(toks) != 6 {
		t.Fatalf("got %d distinct tokens, want 6: %v", len(toks), toks)
	}
	q := kr.SearchTokens("printer")
	found := false
	for _, tk := range toks {
		found = found || tk == q[0]
	}
	if !found {
		t.Fatal("query token not among document tokens")
	}
	for _, tk := range toks {
		if bytes.Contains([]byte(tk), []byte("print")) {
			t.Fatal("token leaks plaintext")
		}
	}
}

func FuzzSealOpen(f *testing.F) {
	f.Add("hello", "tickets.subject:1")
	f.Add("", "x")
	raw := make([]byte, keyring.KeySize)
	kr, _ := keyring.New(keyring.Config{MasterKey: base64.StdEncoding.EncodeToString(raw), MasterKeyID: "f"})
	dk, _, _ := kr.NewDataKey("k")
	f.Fuzz(func(t *testing.T, pt, aad string) {
		got, err := dk.Open(dk.Seal(pt, aad), aad)
		if err != nil || got != pt {
			t.Fatalf("round trip %q: got %q, %v", pt, got, err)
		}
		_ = kr.SearchTokens(pt)
	})
}
