package billing

import (
	"github.com/lumio/contactcentre/internal/apperr"
	"github.com/lumio/contactcentre/internal/auth"
)

// Record-level rules. Which roles may call which RPC is the auth interceptor's table; these
// rules decide which orders a permitted caller may create and see. A caller holding several
// roles gets the union of what each allows.

// checkCreate returns apperr.ErrPermission unless the caller may create orders of channel:
// reseller orders are sales' (they are sold and invoiced through a reseller), storefront
// orders are the storefront's; admin may create both.
func checkCreate(who auth.Identity, c Channel) error {
	switch {
	case who.IsAdmin():
		return nil
	case c == ChannelReseller && who.Has(auth.RoleSales):
		return nil
	case c == ChannelStorefront && who.Has(auth.RoleStorefront):
		return nil
	}
	return apperr.ErrPermission
}

// mayOrderFor reports whether the caller may order for a customer with these facts. The
// storefront is a machine client acting for many buyers, so, as for reading customers, it may
// act only for customers it created itself.
func mayOrderFor(who auth.Identity, c Channel, f CustomerFacts) bool {
	if who.IsAdmin() || c != ChannelStorefront {
		return true
	}
	return who.Subject != "" && f.CreateBy == who.Subject
}

// visibility is the caller's read scope: finance, the support desk and privacy officers see
// every order (invoicing, support, erasure and portability need them); sales sees reseller
// orders; the storefront sees the orders it created.
func visibility(who auth.Identity) Visibility {
	if who.IsAdmin() || who.Has(auth.RoleFinance) || who.Has(auth.RoleAgent) ||
		who.Has(auth.RoleSupervisor) || who.Has(auth.RolePrivacyOfficer) {
		return Visibility{All: true}
	}
	v := Visibility{ResellerOrders: who.Has(auth.RoleSales)}
	if who.Has(auth.RoleStorefront) && who.Subject != "" {
		v.CreateBy = who.Subject
	}
	return v
}

// Sees reports whether an order is inside the scope.
func (v Visibility) Sees(o Order) bool {
	return v.All || (v.ResellerOrders && o.Channel == ChannelReseller) ||
		(v.CreateBy != "" && o.CreateBy == v.CreateBy)
}

// none reports whether the scope sees nothing at all (a caller with no reading role).
func (v Visibility) none() bool { return !v.All && !v.ResellerOrders && v.CreateBy == "" }
