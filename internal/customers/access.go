package customers

import (
	"github.com/lumio/contactcentre/internal/apperr"
	"github.com/lumio/contactcentre/internal/auth"
)

// Record-level visibility. Which roles may call which RPC is decided by the auth interceptor;
// these rules decide which customers a permitted caller may see and change.

// readsAll reports whether the caller may see every customer: everyone who works customers
// (sales, admin) or serves them (agents, supervisors, finance, privacy officers). The
// storefront is a machine client acting for many buyers, so it sees only what it created.
func readsAll(who auth.Identity) bool {
	return who.IsAdmin() || who.Has(auth.RoleSales) || who.Has(auth.RoleAgent) ||
		who.Has(auth.RoleSupervisor) || who.Has(auth.RoleFinance) || who.Has(auth.RolePrivacyOfficer)
}

// writesAll reports whether the caller may change every customer.
func writesAll(who auth.Identity) bool {
	return who.IsAdmin() || who.Has(auth.RoleSales)
}

// owns reports whether c was created by the caller acting as the storefront.
func owns(who auth.Identity, c Customer) bool {
	return who.Has(auth.RoleStorefront) && who.Subject != "" && c.CreateBy == who.Subject
}

func canRead(who auth.Identity, c Customer) bool {
	return readsAll(who) || owns(who, c)
}

// checkWrite returns apperr.ErrNotFound for a customer the caller may not even see, so that
// existence is not leaked, and apperr.ErrPermission for one it sees but may not change.
func checkWrite(who auth.Identity, c Customer) error {
	switch {
	case writesAll(who) || owns(who, c):
		return nil
	case readsAll(who):
		return apperr.ErrPermission
	}
	return apperr.ErrNotFound
}
