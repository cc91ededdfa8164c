package auth

import (
	"bytes"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

func TestLoadOrCreateDevKey(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "nested", ".data")
	path := filepath.Join(dir, "key.pem")

	first, err := LoadOrCreateDevKey(path)
	if err != nil {
		t.Fatal(err)
	}
	again, err := LoadOrCreateDevKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first, again) {
		t.Error("second load returned a different key")
	}
	for p, want := range map[string]os.FileMode{dir: 0o700, path: 0o600} {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if got := st.Mode().Perm(); got != want {
			t.Errorf("%s mode = %v, want %v", filepath.Base(p), got, want)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only the key (temporary files left?)", len(entries))
	}
}

func TestLoadOrCreateDevKeyRace(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "key.pem")
	const n = 8
	keys := make([][]byte, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			k, err := LoadOrCreateDevKey(path)
			if err != nil {
				t.Error(err)
			}
			keys[i] = k
		})
	}
	wg.Wait()
	for i := 1; i < n; i++ {
		if !bytes.Equal(keys[0], keys[i]) {
			t.Fatalf("concurrent callers got different keys (0 and %d)", i)
		}
	}
}

func TestLoadOrCreateDevKeyRejectsGarbage(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "key.pem")
	if err := os.WriteFile(path, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateDevKey(path); err == nil {
		t.Error("LoadOrCreateDevKey accepted a file that is not a key")
	}
	if b, _ := os.ReadFile(path); string(b) != "not a key" {
		t.Error("LoadOrCreateDevKey overwrote an existing file")
	}
}
