// Package keyring implements envelope encryption of personal data: each customer has data keys
// (AES-256-GCM) that are stored wrapped by a master key from configuration. Destroying a
// customer's wrapped data key makes every copy of its ciphertext unreadable (crypto-shredding),
// backups included. The package also derives the keyed hashes used for equality lookups and
// full-text search, so neither needs plaintext at rest.
package keyring

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"unicode"
)

// KeySize is the size of master and data keys: AES-256.
const KeySize = 32

// ErrKeyDestroyed means the data key was crypto-shredded: its ciphertext is gone for good.
var ErrKeyDestroyed = errors.New("data key destroyed")

// Config is the keyring part of a service's configuration.
type Config struct {
	MasterKey   string `env:"DATA_MASTER_KEY, required" json:"-"`
	MasterKeyID string `env:"DATA_MASTER_KEY_ID, default=dev-1"`
}

// Keyring wraps and unwraps data keys under the master key and holds the derived index keys.
type Keyring struct {
	masterID  string
	master    cipher.AEAD
	indexKey  []byte
	searchKey []byte
}

// New builds a keyring from a master key; the index and search keys are derived from it with
// HKDF so that one secret is all an operator has to manage.
func New(cfg Config) (*Keyring, error) {
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(cfg.MasterKey))
	if err != nil || len(raw) != KeySize {
		return nil, errors.New("DATA_MASTER_KEY must be the base64 encoding of 32 random bytes")
	}
	if cfg.MasterKeyID == "" || len(cfg.MasterKeyID) > 64 {
		return nil, errors.New("DATA_MASTER_KEY_ID must be 1 to 64 characters")
	}
	aead, err := newGCM(raw)
	if err != nil {
		return nil, err
	}
	return &Keyring{
		masterID:  cfg.MasterKeyID,
		master:    aead,
		indexKey:  derive(raw, "contactcentre equality index v1"),
		searchKey: derive(raw, "contactcentre search tokens v1"),
	}, nil
}

// MasterKeyID names the master key that wraps new data keys.
func (k *Keyring) MasterKeyID() string { return k.masterID }

// NewDataKey makes a random data key with the given id and returns it with its wrapped form.
func (k *Keyring) NewDataKey(id string) (*DataKey, []byte, error) {
	raw := make([]byte, KeySize)
	if _, err := rand.Read(raw); err != nil {
		return nil, nil, fmt.Errorf("new data key: %w", err)
	}
	aead, err := newGCM(raw)
	if err != nil {
		return nil, nil, err
	}
	return &DataKey{ID: id, aead: aead}, seal(k.master, raw, []byte("data-key:"+id)), nil
}

// Unwrap opens a wrapped data key. A nil wrapped key means it was destroyed.
func (k *Keyring) Unwrap(id, masterKeyID string, wrapped []byte) (*DataKey, error) {
	if wrapped == nil {
		return nil, ErrKeyDestroyed
	}
	if masterKeyID != k.masterID {
		return nil, fmt.Errorf("data key %s is wrapped by master key %q, which is not configured", id, masterKeyID)
	}
	raw, err := open(k.master, wrapped, []byte("data-key:"+id))
	if err != nil {
		return nil, fmt.Errorf("unwrap data key %s: %w", id, err)
	}
	aead, err := newGCM(raw)
	if err != nil {
		return nil, err
	}
	return &DataKey{ID: id, aead: aead}, nil
}

// Index returns a keyed hash of a normalised value for equality lookups (for example finding
// tickets by a contact's email) without storing the value. field separates the hash spaces.
func (k *Keyring) Index(field, value string) []byte {
	value = strings.ToLower(strings.TrimSpace(value))
	if value == "" {
		return nil
	}
	m := hmac.New(sha256.New, k.indexKey)
	m.Write([]byte(field))
	m.Write([]byte{0})
	m.Write([]byte(value))
	return m.Sum(nil)
}

// SearchTokens turns free text into blind search tokens: each distinct word, lower-cased, is
// replaced by a truncated keyed hash. Stored in a tsvector, they give indexed full-text search
// on exact words without any plaintext at rest. Words shorter than two runes are dropped.
func (k *Keyring) SearchTokens(texts ...string) []string {
	seen := map[string]bool{}
	var out []string
	for _, text := range texts {
		for _, w := range Words(text) {
			tok := k.token(w)
			if !seen[tok] {
				seen[tok] = true
				out = append(out, tok)
			}
		}
	}
	return out
}

// Words splits text into the lower-cased words that search indexes (letters and digits).
func Words(text string) []string {
	fields := strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
	out := fields[:0]
	for _, f := range fields {
		if n := len([]rune(f)); n >= 2 && n <= 64 {
			out = append(out, f)
		}
	}
	return out
}

func (k *Keyring) token(word string) string {
	m := hmac.New(sha256.New, k.searchKey)
	m.Write([]byte(word))
	// 12 bytes keep collisions negligible at any realistic vocabulary size.
	return "t" + hex.EncodeToString(m.Sum(nil)[:12])
}

// DataKey encrypts the personal data of one customer.
type DataKey struct {
	ID   string
	aead cipher.AEAD
}

// Seal encrypts plaintext bound to aad (the record and column it belongs to, so a ciphertext
// cannot be moved to another row). The empty string seals to nil, stored as NULL.
func (d *DataKey) Seal(plaintext, aad string) []byte {
	if plaintext == "" {
		return nil
	}
	return seal(d.aead, []byte(plaintext), []byte(aad))
}

// Open decrypts a value sealed with the same aad; nil opens to the empty string.
func (d *DataKey) Open(ciphertext []byte, aad string) (string, error) {
	if ciphertext == nil {
		return "", nil
	}
	pt, err := open(d.aead, ciphertext, []byte(aad))
	if err != nil {
		return "", fmt.Errorf("open with data key %s: %w", d.ID, err)
	}
	return string(pt), nil
}

// AAD names the column of a record that a ciphertext belongs to.
func AAD(table, column, recordID string) string { return table + "." + column + ":" + recordID }

// version prefixes every ciphertext so that the format can change without ambiguity.
const version = 1

func seal(aead cipher.AEAD, plaintext, aad []byte) []byte {
	out := make([]byte, 1+aead.NonceSize(), 1+aead.NonceSize()+len(plaintext)+aead.Overhead())
	out[0] = version
	if _, err := rand.Read(out[1:]); err != nil {
		panic("keyring: crypto/rand failed: " + err.Error())
	}
	// The nonce is 12 fresh random bytes per seal (above); G407 cannot see that through the slice.
	return aead.Seal(out, out[1:1+aead.NonceSize()], plaintext, aad) //nolint:gosec // random nonce, see above
}

func open(aead cipher.AEAD, ct, aad []byte) ([]byte, error) {
	if len(ct) < 1+aead.NonceSize()+aead.Overhead() || ct[0] != version {
		return nil, errors.New("malformed ciphertext")
	}
	ns := aead.NonceSize()
	return aead.Open(nil, ct[1:1+ns], ct[1+ns:], aad)
}

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("aes: %w", err)
	}
	return cipher.NewGCM(block)
}

func derive(master []byte, label string) []byte {
	out, err := hkdf.Key(sha256.New, master, nil, label, KeySize)
	if err != nil {
		panic("keyring: hkdf failed: " + err.Error())
	}
	return out
}
