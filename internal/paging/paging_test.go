package paging_test

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/lumio/contactcentre/internal/apperr"
	"github.com/lumio/contactcentre/internal/paging"
)

func TestSize(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in      int32
		want    int
		invalid bool
	}{{0, 50, false}, {1, 1, false}, {500, 500, false}, {501, 500, false}, {-1, 0, true}} {
		got, err := paging.Size(tt.in)
		if got != tt.want || (err != nil) != tt.invalid {
			t.Errorf("Size(%d) = %d, %v; want %d, invalid %v", tt.in, got, err, tt.want, tt.invalid)
		}
		if f, _ := apperr.Field(err); tt.invalid && f != "page_size" {
			t.Errorf("Size(%d) error names %q, want page_size", tt.in, f)
		}
	}
}

func TestTokenRoundTripAndBinding(t *testing.T) {
	t.Parallel()
	type filter struct{ Status, Query string }
	c := paging.Cursor{Time: time.Date(2026, 12, 1, 8, 0, 0, 123, time.UTC), ID: "01a2"}
	tok := paging.Encode(c, filter{Status: "open"})

	got, ok, err := paging.Decode(tok, filter{Status: "open"})
	if err != nil || !ok {
		t.Fatalf("Decode = %v, %v", ok, err)
	}
	if diff := cmp.Diff(c, got); diff != "" {
		t.Errorf("cursor (-want +got):\n%s", diff)
	}
	if _, ok, err := paging.Decode("", filter{}); ok || err != nil {
		t.Errorf("empty token: ok %v, err %v; want first page", ok, err)
	}
	for name, bad := range map[string]string{
		"other filters": tok,
		"not base64":    "!!!",
		"not json":      "bm90IGpzb24",
		"no id":         paging.Encode(paging.Cursor{}, filter{Status: "closed"}),
	} {
		_, _, err := paging.Decode(bad, filter{Status: "closed"})
		var ie *apperr.InvalidError
		if !errors.As(err, &ie) || ie.Field != "page_token" {
			t.Errorf("%s: got %v, want invalid page_token", name, err)
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(paging.Encode(paging.Cursor{ID: "x", Time: time.Unix(0, 0)}, "f"))
	f.Add("")
	f.Add("e30")
	f.Fuzz(func(t *testing.T, tok string) {
		_, _, err := paging.Decode(tok, "f")
		var ie *apperr.InvalidError
		if err != nil && !errors.As(err, &ie) {
			t.Fatalf("Decode(%q) returned %v, not an InvalidError", tok, err)
		}
	})
}
