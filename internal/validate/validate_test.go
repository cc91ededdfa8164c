package validate_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/lumio/contactcentre/internal/apperr"
	"github.com/lumio/contactcentre/internal/validate"
)

func TestChecks(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		err   error
		valid bool
	}{
		{"id canonical", second(validate.ID("id", "01a23098-9b7a-7341-9607-21285c0955ee")), true},
		{"id braces", second(validate.ID("id", "{01a23098-9b7a-7341-9607-21285c0955ee}")), false},
		{"id empty", second(validate.ID("id", "")), false},
		{"request id empty", validate.RequestID("request_id", ""), true},
		{"request id long", validate.RequestID("request_id", strings.Repeat("a", 129)), false},
		{"request id control", validate.RequestID("request_id", "a\x00b"), false},
		{"text ok", validate.Text("f", "Head of IT", 20, true), true},
		{"text required", validate.Text("f", "  ", 20, true), false},
		{"text long", validate.Text("f", strings.Repeat("é", 21), 20, false), false},
		{"text newline", validate.Text("f", "a\nb", 20, false), false},
		{"multiline newline", validate.MultilineText("f", "a\nb\tc", 20, false), true},
		{"multiline NUL", validate.MultilineText("f", "a\x00", 20, false), false},
		{"text bad utf8", validate.Text("f", "\xff", 20, false), false},
		{"email alias", validate.Email("f", "it-desk@school.example"), true},
		{"email display name", validate.Email("f", "Jane <jane@school.example>"), false},
		{"email junk", validate.Email("f", "not an email"), false},
		{"email empty", validate.Email("f", ""), true},
		{"phone", validate.Phone("f", "+31 (20) 555-0100"), true},
		{"phone letters", validate.Phone("f", "call me"), false},
		{"country", validate.Country("f", "NL", true), true},
		{"country unassigned", validate.Country("f", "XX", true), false},
		{"country lower", validate.Country("f", "nl", true), false},
		{"country optional", validate.Country("f", "", false), true},
		{"reseller", validate.ResellerID("f", "edu-partners-nl"), true},
		{"reseller upper", validate.ResellerID("f", "EDU"), false},
	}
	for _, tt := range tests {
		var ie *apperr.InvalidError
		switch {
		case tt.valid && tt.err != nil:
			t.Errorf("%s: got %v, want valid", tt.name, tt.err)
		case !tt.valid && !errors.As(tt.err, &ie):
			t.Errorf("%s: got %v, want an InvalidError", tt.name, tt.err)
		}
	}
}

func second(_ string, err error) error { return err }

func FuzzText(f *testing.F) {
	f.Add("Head of science", 10)
	f.Add("\xff\x00", 1)
	f.Fuzz(func(t *testing.T, s string, n int) {
		for _, err := range []error{validate.Text("f", s, n, true), validate.MultilineText("f", s, n, false),
			validate.Email("f", s), validate.Phone("f", s), validate.Country("f", s, true), validate.RequestID("f", s)} {
			var ie *apperr.InvalidError
			if err != nil && !errors.As(err, &ie) {
				t.Fatalf("got %v, not an InvalidError", err)
			}
			if err != nil && len(s) > 3 && strings.Contains(err.Error(), s) {
				t.Fatalf("error %q echoes the value", err)
			}
		}
	})
}
