// Package auth proves who a caller is (JWT bearer tokens, verified against a development key or
// an issuer's JWKS) and decides which roles may call which RPC. It knows nothing of gRPC.
package auth

import (
	"context"
	"fmt"
	"slices"
)

// Role is what a caller may do, as named in the API contract.
type Role string

// The roles of the API contract. RoleAdmin may call every RPC.
const (
	RoleAgent          Role = "agent"
	RoleSupervisor     Role = "supervisor"
	RoleStorefront     Role = "storefront"
	RoleSales          Role = "sales"
	RoleFinance        Role = "finance"
	RolePrivacyOfficer Role = "privacy_officer"
	RoleAdmin          Role = "admin"
)

// allRoles lists every role, for ParseRole and for RPCs that every role may call.
var allRoles = []Role{
	RoleAgent, RoleSupervisor, RoleStorefront, RoleSales, RoleFinance, RolePrivacyOfficer, RoleAdmin,
}

// ParseRole returns the Role named s, or an error if s names none.
func ParseRole(s string) (Role, error) {
	if r := Role(s); slices.Contains(allRoles, r) {
		return r, nil
	}
	return "", fmt.Errorf("unknown role %q", s)
}

// Identity is an authenticated caller.
type Identity struct {
	Subject string
	Roles   []Role
}

// Has reports whether the identity holds role r.
func (id Identity) Has(r Role) bool { return slices.Contains(id.Roles, r) }

// IsAdmin reports whether the identity holds RoleAdmin.
func (id Identity) IsAdmin() bool { return id.Has(RoleAdmin) }

type identityKey struct{}

// WithIdentity returns a copy of ctx that carries id.
func WithIdentity(ctx context.Context, id Identity) context.Context {
	return context.WithValue(ctx, identityKey{}, id)
}

// FromContext returns the identity that WithIdentity stored in ctx.
func FromContext(ctx context.Context) (Identity, bool) {
	id, ok := ctx.Value(identityKey{}).(Identity)
	return id, ok
}
