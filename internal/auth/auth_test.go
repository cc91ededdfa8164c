package auth

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseRole(t *testing.T) {
	t.Parallel()
	for _, r := range allRoles {
		got, err := ParseRole(string(r))
		if err != nil || got != r {
			t.Errorf("ParseRole(%q) = %q, %v", r, got, err)
		}
	}
	for _, s := range []string{"", "Admin", "root", "privacy-officer"} {
		if _, err := ParseRole(s); err == nil {
			t.Errorf("ParseRole(%q) succeeded, want error", s)
		}
	}
}

func TestIdentityContext(t *testing.T) {
	t.Parallel()
	if _, ok := FromContext(context.Background()); ok {
		t.Fatal("FromContext on a bare context reported an identity")
	}
	want := Identity{Subject: "dev-agent", Roles: []Role{RoleAgent, RoleSupervisor}}
	got, ok := FromContext(WithIdentity(context.Background(), want))
	if !ok {
		t.Fatal("FromContext lost the identity")
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("identity (-want +got):\n%s", diff)
	}
	if !got.Has(RoleSupervisor) || got.Has(RoleFinance) || got.IsAdmin() {
		t.Errorf("Has/IsAdmin wrong for %v", got.Roles)
	}
	if !(Identity{Roles: []Role{RoleAdmin}}).IsAdmin() {
		t.Error("IsAdmin false for an admin")
	}
}
