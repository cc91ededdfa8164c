// Package keyringdb stores customers' wrapped data keys in PostgreSQL. Its functions take the
// caller's transaction so that a record and the key that protects it are written together.
package keyringdb

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"github.com/lumio/contactcentre/internal/keyring"
	"github.com/lumio/contactcentre/internal/postgres"
)

// Purpose says what a data key protects.
type Purpose string

const (
	// Personal protects what erasure destroys: contacts, free text, recordings.
	Personal Purpose = "personal"
	// Retained protects what the law keeps until retain_until: invoicing address and such.
	Retained Purpose = "retained"
)

// Ensure returns the customer's data key for purpose, creating it if the customer has none.
// Concurrent callers agree on one key: the loser of the insert race reads the winner's.
func Ensure(ctx context.Context, db postgres.DBTX, kr *keyring.Keyring, customerID string, purpose Purpose) (*keyring.DataKey, error) {
	dk, err := ForCustomer(ctx, db, kr, customerID, purpose)
	if err == nil {
		return dk, nil
	}
	id := uuid.Must(uuid.NewV7()).String()
	fresh, wrapped, err := kr.NewDataKey(id)
	if err != nil {
		return nil, err
	}
	tag, err := db.Exec(ctx, `INSERT INTO data_keys (id, customer_id, purpose, master_key_id, wrapped_key)
		VALUES ($1, $2, $3, $4, $5) ON CONFLICT (customer_id, purpose) DO NOTHING`,
		id, customerID, string(purpose), kr.MasterKeyID(), wrapped)
	if err != nil {
		return nil, postgres.Interpret(fmt.Errorf("insert data key: %w", err))
	}
	if tag.RowsAffected() == 1 {
		return fresh, nil
	}
	return ForCustomer(ctx, db, kr, customerID, purpose)
}

// ForCustomer returns the customer's data key for purpose: apperr.ErrNotFound if it has none,
// keyring.ErrKeyDestroyed if it was shredded.
func ForCustomer(ctx context.Context, db postgres.DBTX, kr *keyring.Keyring, customerID string, purpose Purpose) (*keyring.DataKey, error) {
	var id, masterID string
	var wrapped []byte
	err := db.QueryRow(ctx, `SELECT id::text, master_key_id, wrapped_key FROM data_keys
		WHERE customer_id = $1 AND purpose = $2`, customerID, string(purpose)).Scan(&id, &masterID, &wrapped)
	if err != nil {
		return nil, postgres.Interpret(fmt.Errorf("read data key: %w", err))
	}
	return kr.Unwrap(id, masterID, wrapped)
}

// ByID returns the data key with the given id (the dek_id stored beside a ciphertext).
func ByID(ctx context.Context, db postgres.DBTX, kr *keyring.Keyring, id string) (*keyring.DataKey, error) {
	var masterID string
	var wrapped []byte
	err := db.QueryRow(ctx, `SELECT master_key_id, wrapped_key FROM data_keys WHERE id = $1`, id).Scan(&masterID, &wrapped)
	if err != nil {
		return nil, postgres.Interpret(fmt.Errorf("read data key %s: %w", id, err))
	}
	return kr.Unwrap(id, masterID, wrapped)
}

// Destroy crypto-shreds the customer's data key for purpose: every ciphertext under it, in the
// database and in every backup, becomes unreadable. It reports whether a live key was destroyed.
func Destroy(ctx context.Context, db postgres.DBTX, customerID string, purpose Purpose) (bool, error) {
	tag, err := db.Exec(ctx, `UPDATE data_keys SET wrapped_key = NULL, destroy_time = now()
		WHERE customer_id = $1 AND purpose = $2 AND wrapped_key IS NOT NULL`, customerID, string(purpose))
	if err != nil {
		return false, postgres.Interpret(fmt.Errorf("destroy data key: %w", err))
	}
	return tag.RowsAffected() == 1, nil
}
