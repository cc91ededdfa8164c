package postgres_test

import (
	"errors"
	"fmt"
	"io"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/lumio/contactcentre/internal/apperr"
	"github.com/lumio/contactcentre/internal/postgres"
)

func TestInterpret(t *testing.T) {
	t.Parallel()
	if !errors.Is(postgres.Interpret(fmt.Errorf("get: %w", pgx.ErrNoRows)), apperr.ErrNotFound) {
		t.Error("no rows must be not found")
	}
	for _, lost := range []error{io.ErrUnexpectedEOF, syscall.ECONNRESET, syscall.ECONNREFUSED} {
		if !errors.Is(postgres.Interpret(fmt.Errorf("query: %w", lost)), apperr.ErrUnavailable) {
			t.Errorf("%v must be unavailable", lost)
		}
	}
	plain := errors.New("boom")
	if got := postgres.Interpret(plain); !errors.Is(got, plain) || got.Error() != plain.Error() {
		t.Errorf("an unknown error must pass through, got %v", got)
	}
}
