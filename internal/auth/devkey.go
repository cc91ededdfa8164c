package auth

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// LoadOrCreateDevKey returns the development signing key stored at path as a PKCS#8 PEM,
// creating it (directory 0700, file 0600) if it does not exist yet. Concurrent first calls
// from several processes (make run starts both services and ccctl) agree on one key.
func LoadOrCreateDevKey(path string) (ed25519.PrivateKey, error) {
	key, err := readDevKey(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return key, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("dev key: %w", err)
	}
	_, key, err = ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("dev key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("dev key: %w", err)
	}
	err = publishExclusive(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	if errors.Is(err, fs.ErrExist) {
		// Another process created the key first; use theirs so all tokens verify.
		return readDevKey(path)
	}
	if err != nil {
		return nil, fmt.Errorf("dev key: %w", err)
	}
	return key, nil
}

// publishExclusive writes data to a private temporary file, then hard-links it to path. The
// link fails with fs.ErrExist if path exists, so unlike writing path directly with O_EXCL,
// no reader ever sees a half-written key.
func publishExclusive(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".devkey-*") // O_EXCL, mode 0600
	if err != nil {
		return err
	}
	defer func() { _ = os.Remove(tmp.Name()) }() // after the link succeeds, path keeps the key
	if _, err := tmp.Write(data); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Link(tmp.Name(), path)
}

func readDevKey(path string) (ed25519.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("dev key: %w", err)
	}
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("dev key %s: not a PKCS#8 PEM private key", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("dev key %s: %w", path, err)
	}
	key, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("dev key %s: not an Ed25519 key", path)
	}
	return key, nil
}
