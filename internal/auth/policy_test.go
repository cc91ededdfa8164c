package auth

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/lumio/contactcentre/internal/apperr"
	_ "github.com/lumio/contactcentre/internal/gen/contactcentre/dataflow/v1"
	_ "github.com/lumio/contactcentre/internal/gen/contactcentre/orders/v1"
	_ "github.com/lumio/contactcentre/internal/gen/contactcentre/support/v1"
)

// generatedMethods lists every RPC of every contactcentre service linked into the binary.
func generatedMethods(t *testing.T) map[string]bool {
	t.Helper()
	methods := map[string]bool{}
	protoregistry.GlobalFiles.RangeFiles(func(fd protoreflect.FileDescriptor) bool {
		for i := range fd.Services().Len() {
			svc := fd.Services().Get(i)
			if !strings.HasPrefix(string(svc.FullName()), "contactcentre.") {
				continue
			}
			for j := range svc.Methods().Len() {
				methods[fmt.Sprintf("/%s/%s", svc.FullName(), svc.Methods().Get(j).Name())] = true
			}
		}
		return true
	})
	if len(methods) == 0 {
		t.Fatal("no contactcentre services registered; are the gen packages imported?")
	}
	return methods
}

func TestRoleTableCoversEveryRPC(t *testing.T) {
	t.Parallel()
	generated := generatedMethods(t)
	for m := range generated {
		if _, ok := rpcRoles[m]; !ok {
			t.Errorf("RPC %s has no entry in rpcRoles: decide who may call it", m)
		}
	}
	for _, m := range Methods() {
		if !generated[m] {
			t.Errorf("rpcRoles names %s, which no generated service has", m)
		}
	}
}

func TestRoleTableListsOnlyKnownRoles(t *testing.T) {
	t.Parallel()
	for m, roles := range rpcRoles {
		if len(roles) == 0 {
			t.Errorf("%s: empty role list; only admin could call it", m)
		}
		for _, r := range roles {
			if _, err := ParseRole(string(r)); err != nil {
				t.Errorf("%s: %v", m, err)
			}
		}
	}
}

func TestAuthorize(t *testing.T) {
	t.Parallel()
	const (
		getTicket    = "/contactcentre.support.v1.TicketService/GetTicket"
		createTicket = "/contactcentre.support.v1.TicketService/CreateTicket"
		getPayment   = "/contactcentre.orders.v1.PaymentService/GetPayment"
		revenue      = "/contactcentre.orders.v1.ReportingService/RevenueReport"
		erasure      = "/contactcentre.dataflow.v1.PrivacyService/RequestErasure"
		subprocs     = "/contactcentre.dataflow.v1.DataFlowService/ListSubprocessors"
		unknown      = "/contactcentre.support.v1.TicketService/DropAllTickets"
	)
	who := func(roles ...Role) Identity { return Identity{Subject: "s", Roles: roles} }
	tests := []struct {
		method string
		id     Identity
		allow  bool
	}{
		{getTicket, who(RoleAgent), true},
		{getTicket, who(RolePrivacyOfficer), true},
		{createTicket, who(RolePrivacyOfficer), false},
		{getTicket, who(RoleFinance), false}, // finance never sees ticket content
		{getPayment, who(RoleAgent), false},  // agents never see payment details
		{getPayment, who(RoleFinance), true},
		{revenue, who(RoleFinance), true},
		{revenue, who(RoleSales), false},
		{erasure, who(RoleSupervisor), false},
		{erasure, who(RolePrivacyOfficer), true},
		{subprocs, who(RoleStorefront), true},
		{revenue, who(RoleSales, RoleFinance), true},
		{revenue, who(), false},
		{revenue, who(RoleAdmin), true},
		{unknown, who(RoleAdmin), false}, // fail closed, even for admin
	}
	for _, tt := range tests {
		err := Authorize(tt.method, tt.id)
		if tt.allow && err != nil {
			t.Errorf("Authorize(%s, %v) = %v, want allowed", tt.method, tt.id.Roles, err)
		}
		if !tt.allow && !errors.Is(err, apperr.ErrPermission) {
			t.Errorf("Authorize(%s, %v) = %v, want ErrPermission", tt.method, tt.id.Roles, err)
		}
	}
}

func TestAdminMayCallEveryRPC(t *testing.T) {
	t.Parallel()
	admin := Identity{Subject: "root", Roles: []Role{RoleAdmin}}
	for _, m := range Methods() {
		if err := Authorize(m, admin); err != nil {
			t.Errorf("admin denied %s: %v", m, err)
		}
	}
}
