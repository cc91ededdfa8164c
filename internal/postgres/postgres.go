// Package postgres holds what every store shares: the connection pool, explicit transactions,
// driver-error interpretation, idempotency keys and the migration runner.
package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lumio/contactcentre/internal/apperr"
)

// Config is the database part of a service's configuration.
type Config struct {
	URL string `env:"DATABASE_URL, required" json:"-"`
	// MaxConns bounds the pool; 0 keeps pgx's default (max(4, NumCPU)).
	MaxConns int32 `env:"DATABASE_MAX_CONNS, default=16"`
}

// DBTX is what generated queries run on: a pool, a connection or a transaction.
type DBTX interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Open connects a pool and pings it, so a wrong URL fails at start-up, not at first request.
func Open(ctx context.Context, cfg Config) (*pgxpool.Pool, error) {
	pc, err := pgxpool.ParseConfig(cfg.URL)
	if err != nil {
		// pgx's message may echo the URL and its password: keep it out of logs.
		return nil, errors.New("DATABASE_URL is not a valid PostgreSQL URL")
	}
	if cfg.MaxConns > 0 {
		pc.MaxConns = cfg.MaxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.Ping(pingCtx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("ping database: %w", err)
	}
	return pool, nil
}

// Beginner starts transactions; *pgxpool.Pool and pgx.Tx (savepoints) both satisfy it.
type Beginner interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}

// InTx runs fn in a transaction: it commits when fn returns nil and rolls back otherwise. The
// rollback ignores ctx cancellation so a cancelled request never leaves a transaction open.
func InTx(ctx context.Context, db Beginner, fn func(tx pgx.Tx) error) error {
	tx, err := db.Begin(ctx)
	if err != nil {
		return Interpret(fmt.Errorf("begin: %w", err))
	}
	defer func() {
		rbCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = tx.Rollback(rbCtx)
	}()
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return Interpret(fmt.Errorf("commit: %w", err))
	}
	return nil
}

// SQLSTATE codes the stores act on.
const (
	uniqueViolation     = "23505"
	foreignKeyViolation = "23503"
	serializationFail   = "40001"
)

// Interpret maps driver errors to domain errors: no rows is apperr.ErrNotFound, a lost
// connection or an unreachable server is apperr.ErrUnavailable. Other errors pass through.
func Interpret(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%w", apperr.ErrNotFound)
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		if pgErr.Code == serializationFail || pgErr.Code[:2] == "08" || pgErr.Code[:2] == "57" {
			return fmt.Errorf("%w: %w", apperr.ErrUnavailable, err)
		}
		return err
	}
	var connErr *pgconn.ConnectError
	var netErr net.Error
	if errors.As(err, &connErr) || pgconn.SafeToRetry(err) || pgconn.Timeout(err) || errors.As(err, &netErr) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) {
		// The server or the network went away mid-query: the caller may retry; it is not a bug.
		return fmt.Errorf("%w: %w", apperr.ErrUnavailable, err)
	}
	return err
}

// IsUniqueViolation reports whether err is a unique-constraint violation, optionally of the
// named constraint (empty matches any).
func IsUniqueViolation(err error, constraint string) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == uniqueViolation &&
		(constraint == "" || pgErr.ConstraintName == constraint)
}

// IsForeignKeyViolation reports whether err is a foreign-key violation of the named constraint
// (empty matches any).
func IsForeignKeyViolation(err error, constraint string) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == foreignKeyViolation &&
		(constraint == "" || pgErr.ConstraintName == constraint)
}

// RequestHash fingerprints a create request (any JSON-encodable domain input) so that a reused
// request id with a different request can be told apart from a retry.
func RequestHash(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("postgres: request hash of unencodable %T", v))
	}
	sum := sha256.Sum256(b)
	return sum[:]
}

// ClaimIdempotencyKey records (scope, key) for resourceID inside the caller's transaction.
// If the key was already used it returns the first resource's id and replay true, or
// apperr.ErrAlreadyExists when the earlier request differed. A concurrent claim of the same key
// waits on the unique index until the other transaction ends, so exactly one create wins.
func ClaimIdempotencyKey(ctx context.Context, tx DBTX, scope, key string, requestHash []byte, resourceID string) (firstID string, replay bool, err error) {
	tag, err := tx.Exec(ctx, `INSERT INTO idempotency_keys (scope, key, request_hash, resource_id)
		VALUES ($1, $2, $3, $4) ON CONFLICT (scope, key) DO NOTHING`, scope, key, requestHash, resourceID)
	if err != nil {
		return "", false, Interpret(fmt.Errorf("claim idempotency key: %w", err))
	}
	if tag.RowsAffected() == 1 {
		return resourceID, false, nil
	}
	var hash []byte
	var first string
	err = tx.QueryRow(ctx, `SELECT request_hash, resource_id::text FROM idempotency_keys
		WHERE scope = $1 AND key = $2`, scope, key).Scan(&hash, &first)
	if err != nil {
		return "", false, Interpret(fmt.Errorf("read idempotency key: %w", err))
	}
	if string(hash) != string(requestHash) {
		return "", false, apperr.ErrAlreadyExists
	}
	return first, true, nil
}
