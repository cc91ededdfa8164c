package keyringdb_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/lumio/contactcentre/internal/apperr"
	"github.com/lumio/contactcentre/internal/keyring"
	"github.com/lumio/contactcentre/internal/keyring/keyringdb"
	"github.com/lumio/contactcentre/internal/keyring/keyringtest"
	"github.com/lumio/contactcentre/internal/postgres/pgtest"
)

func TestEnsureDestroy(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, _ := pgtest.NewDB(t)
	kr := keyringtest.New(t)
	customer := uuid.NewString()

	if _, err := keyringdb.ForCustomer(ctx, pool, kr, customer, keyringdb.Personal); !errors.Is(err, apperr.ErrNotFound) {
		t.Fatalf("no key yet: got %v", err)
	}
	// Racing creators must agree on one key.
	keys := make([]*keyring.DataKey, 8)
	var wg sync.WaitGroup
	for i := range keys {
		wg.Go(func() {
			dk, err := keyringdb.Ensure(ctx, pool, kr, customer, keyringdb.Personal)
			if err != nil {
				t.Error(err)
				return
			}
			keys[i] = dk
		})
	}
	wg.Wait()
	for _, k := range keys {
		if k == nil || k.ID != keys[0].ID {
			t.Fatal("concurrent Ensure produced different keys")
		}
	}
	ct := keys[0].Seal("secret", "x")
	byID, err := keyringdb.ByID(ctx, pool, kr, keys[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if pt, err := byID.Open(ct, "x"); err != nil || pt != "secret" {
		t.Fatalf("Open = %q, %v", pt, err)
	}
	retained, err := keyringdb.Ensure(ctx, pool, kr, customer, keyringdb.Retained)
	if err != nil || retained.ID == keys[0].ID {
		t.Fatalf("retained key must be separate: %v", err)
	}

	if ok, err := keyringdb.Destroy(ctx, pool, customer, keyringdb.Personal); !ok || err != nil {
		t.Fatalf("Destroy = %v, %v", ok, err)
	}
	if _, err := keyringdb.ByID(ctx, pool, kr, keys[0].ID); !errors.Is(err, keyring.ErrKeyDestroyed) {
		t.Fatalf("after shredding: got %v", err)
	}
	if _, err := keyringdb.ForCustomer(ctx, pool, kr, customer, keyringdb.Retained); err != nil {
		t.Fatalf("retained key must survive: %v", err)
	}
	if ok, _ := keyringdb.Destroy(ctx, pool, customer, keyringdb.Personal); ok {
		t.Fatal("second Destroy must report nothing destroyed")
	}
}
