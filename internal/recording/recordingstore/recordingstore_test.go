package recordingstore_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/lumio/contactcentre/internal/recording"
	"github.com/lumio/contactcentre/internal/recording/recordingstore"
)

func TestFS(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "recordings")
	fs, err := recordingstore.NewFS(dir)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("store dir: %v, %v; want mode 0700", fi, err)
	}
	key := "01930000-0000-7000-8000-000000000001"
	if err := fs.Put(ctx, key, []byte("sealed")); err != nil {
		t.Fatal(err)
	}
	got, err := fs.Get(ctx, key)
	if err != nil || string(got) != "sealed" {
		t.Fatalf("Get = %q, %v", got, err)
	}
	if err := fs.Delete(ctx, key); err != nil {
		t.Fatal(err)
	}
	if err := fs.Delete(ctx, key); err != nil {
		t.Errorf("second delete: %v, want nil", err)
	}
	if _, err := fs.Get(ctx, key); !errors.Is(err, recording.ErrObjectNotFound) {
		t.Errorf("Get after delete: %v, want ErrObjectNotFound", err)
	}
	for _, bad := range []string{"../escape", "", "01930000-0000-7000-8000-00000000000/", "a/../../b"} {
		if err := fs.Put(ctx, bad, []byte("x")); err == nil {
			t.Errorf("Put(%q) accepted", bad)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("store holds %v, want nothing (no temp files left)", entries)
	}
}
