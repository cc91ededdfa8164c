package auth

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/lumio/contactcentre/internal/apperr"
)

const (
	ticketSvc    = "/contactcentre.support.v1.TicketService/"
	recordingSvc = "/contactcentre.support.v1.RecordingService/"
	customerSvc  = "/contactcentre.orders.v1.CustomerService/"
	orderSvc     = "/contactcentre.orders.v1.OrderService/"
	paymentSvc   = "/contactcentre.orders.v1.PaymentService/"
	reportingSvc = "/contactcentre.orders.v1.ReportingService/"
	dataflowSvc  = "/contactcentre.dataflow.v1.DataFlowService/"
	privacySvc   = "/contactcentre.dataflow.v1.PrivacyService/"
)

// Role groups that several RPCs share. Record-level rules (a storefront sees only its own
// customers, orders and payments) live in the domain packages; this table only gates the RPC.
var (
	supportDesk     = []Role{RoleAgent, RoleSupervisor}
	supportReaders  = []Role{RoleAgent, RoleSupervisor, RolePrivacyOfficer}
	customerWriters = []Role{RoleSales, RoleStorefront}
	customerReaders = []Role{RoleSales, RoleStorefront, RoleAgent, RoleFinance, RoleSupervisor, RolePrivacyOfficer}
	orderReaders    = []Role{RoleSales, RoleStorefront, RoleFinance, RoleAgent, RoleSupervisor, RolePrivacyOfficer}
	flowInspectors  = []Role{RoleSupervisor, RolePrivacyOfficer}
)

// rpcRoles is the one table of which roles may call which RPC, in both processes. Admin is
// allowed everywhere and is not listed. A method missing here is denied to everyone, and a
// test fails the build when the table and the generated services disagree.
var rpcRoles = map[string][]Role{
	ticketSvc + "CreateTicket":     supportDesk,
	ticketSvc + "GetTicket":        supportReaders,
	ticketSvc + "ListTickets":      supportReaders,
	ticketSvc + "UpdateTicket":     supportDesk,
	ticketSvc + "AddComment":       supportDesk,
	ticketSvc + "ListComments":     supportReaders,
	ticketSvc + "ListTicketEvents": supportReaders,

	recordingSvc + "SetRecordingOptOut": supportDesk,
	recordingSvc + "ListRecordings":     supportReaders,
	recordingSvc + "GetRecording":       supportReaders,
	recordingSvc + "DeleteRecording":    {RoleSupervisor, RolePrivacyOfficer},

	customerSvc + "CreateCustomer": customerWriters,
	customerSvc + "GetCustomer":    customerReaders,
	customerSvc + "ListCustomers":  customerReaders,
	customerSvc + "UpdateCustomer": customerWriters,

	orderSvc + "CreateOrder": {RoleSales, RoleStorefront},
	orderSvc + "GetOrder":    orderReaders,
	orderSvc + "ListOrders":  orderReaders,

	// Agents never see payment details, so no payment RPC lists them.
	paymentSvc + "ResolveStripeEntity": {RoleStorefront, RoleSales},
	paymentSvc + "CreatePayment":       {RoleStorefront},
	paymentSvc + "GetPayment":          {RoleStorefront, RoleFinance},
	paymentSvc + "RefundPayment":       {RoleFinance},

	reportingSvc + "RevenueReport": {RoleFinance},
	reportingSvc + "ExportOrders":  {RoleFinance},

	dataflowSvc + "ListSubprocessors": allRoles,
	dataflowSvc + "ExplainFlow":       flowInspectors,
	dataflowSvc + "ListDeliveries":    flowInspectors,

	privacySvc + "RequestErasure":     {RolePrivacyOfficer},
	privacySvc + "GetErasure":         {RolePrivacyOfficer},
	privacySvc + "ExportCustomerData": {RolePrivacyOfficer},
}

// Authorize returns nil if id may call fullMethod ("/package.Service/Method"), and an error
// wrapping apperr.ErrPermission otherwise, including for methods the table does not know.
func Authorize(fullMethod string, id Identity) error {
	allowed, known := rpcRoles[fullMethod]
	if !known {
		return fmt.Errorf("%w: no role may call %s", apperr.ErrPermission, fullMethod)
	}
	if id.IsAdmin() || slices.ContainsFunc(allowed, id.Has) {
		return nil
	}
	return fmt.Errorf("%w: role %s may not call %s", apperr.ErrPermission, rolesString(id.Roles), fullMethod)
}

// Methods returns every full method name the role table knows, sorted.
func Methods() []string {
	return slices.Sorted(maps.Keys(rpcRoles))
}

func rolesString(roles []Role) string {
	if len(roles) == 0 {
		return "(none)"
	}
	s := make([]string, len(roles))
	for i, r := range roles {
		s[i] = string(r)
	}
	return strings.Join(s, ",")
}
