// Package paging implements AIP-158 list paging: page sizes and opaque keyset page tokens that
// are bound to the filter they were issued for.
package paging

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"time"

	"github.com/lumio/contactcentre/internal/apperr"
)

const (
	// DefaultSize is used when the request's page_size is 0.
	DefaultSize = 50
	// MaxSize is the largest page; larger requests are coerced down (AIP-158).
	MaxSize = 500
)

// Size validates a requested page size and applies the default and the maximum.
func Size(requested int32) (int, error) {
	switch {
	case requested < 0:
		return 0, apperr.Invalid("page_size", "must not be negative")
	case requested == 0:
		return DefaultSize, nil
	case requested > MaxSize:
		return MaxSize, nil
	}
	return int(requested), nil
}

// Cursor is the position after the last row of a page, for keyset paging on (time, id). Keyset
// paging stays correct under concurrent inserts: rows never shift between pages.
type Cursor struct {
	Time time.Time `json:"t"`
	ID   string    `json:"i"`
}

type token struct {
	Cursor
	Filter []byte `json:"f"`
}

// Encode makes an opaque page token for the cursor, bound to the filter (any JSON-encodable
// value describing the list request's filters).
func Encode(c Cursor, filter any) string {
	b, err := json.Marshal(token{Cursor: c, Filter: filterHash(filter)})
	if err != nil {
		panic("paging: cursor is not encodable: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// Decode reads a page token. An empty token means the first page (ok false). A token that is
// malformed or was issued for other filters is an invalid page_token (AIP-158).
func Decode(s string, filter any) (c Cursor, ok bool, err error) {
	if s == "" {
		return Cursor{}, false, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(raw) > 1024 {
		return Cursor{}, false, apperr.Invalid("page_token", "is not a token this service issued")
	}
	var t token
	if err := json.Unmarshal(raw, &t); err != nil || t.ID == "" {
		return Cursor{}, false, apperr.Invalid("page_token", "is not a token this service issued")
	}
	if string(t.Filter) != string(filterHash(filter)) {
		return Cursor{}, false, apperr.Invalid("page_token", "was issued for different filters")
	}
	return t.Cursor, true, nil
}

func filterHash(filter any) []byte {
	b, err := json.Marshal(filter)
	if err != nil {
		// Filters are plain structs of strings and numbers; anything else is a programming error.
		panic("paging: filter is not encodable: " + err.Error())
	}
	sum := sha256.Sum256(b)
	return sum[:8]
}
