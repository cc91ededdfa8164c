// Package recordingstore keeps recordings' sealed audio: on the local filesystem (the default,
// under .data/recordings) or in an S3-compatible bucket, whose region the operator chooses so
// that audio stays in the US or the EU. Objects arrive already encrypted with the customer's
// personal data key; the store never sees plaintext.
package recordingstore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"

	"github.com/lumio/contactcentre/internal/recording"
)

// keyPattern admits recording ids only, so that a key can never climb out of the store's
// directory or name another bucket prefix.
var keyPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

func checkKey(key string) error {
	if !keyPattern.MatchString(key) {
		return fmt.Errorf("recording store: invalid object key %q", key)
	}
	return nil
}

// FS stores objects as files under a directory, one per recording.
type FS struct {
	dir string
}

var _ recording.Objects = (*FS)(nil)

// NewFS returns an FS under dir, creating it readable by this user only.
func NewFS(dir string) (*FS, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("recording store: %w", err)
	}
	return &FS{dir: dir}, nil
}

func (f *FS) path(key string) string { return filepath.Join(f.dir, key+".audio") }

// Put writes the object atomically: a reader sees the old object or the whole new one.
func (f *FS) Put(_ context.Context, key string, data []byte) error {
	if err := checkKey(key); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(f.dir, ".put-*")
	if err != nil {
		return fmt.Errorf("recording store: %w", err)
	}
	// Removes the temp file on failure; after the rename there is nothing left to remove.
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("recording store: write: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("recording store: sync: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("recording store: close: %w", err)
	}
	if err := os.Rename(tmp.Name(), f.path(key)); err != nil {
		return fmt.Errorf("recording store: rename: %w", err)
	}
	return nil
}

// Get reads an object. Errors: recording.ErrObjectNotFound.
func (f *FS) Get(_ context.Context, key string) ([]byte, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(f.path(key))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, recording.ErrObjectNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("recording store: read: %w", err)
	}
	return b, nil
}

// Delete removes an object; a missing object is already deleted.
func (f *FS) Delete(_ context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if err := os.Remove(f.path(key)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("recording store: delete: %w", err)
	}
	return nil
}
