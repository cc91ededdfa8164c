package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/fieldmaskpb"

	"github.com/lumio/contactcentre/internal/auth"
	ordersv1 "github.com/lumio/contactcentre/internal/gen/contactcentre/orders/v1"
	supportv1 "github.com/lumio/contactcentre/internal/gen/contactcentre/support/v1"
)

// Defaults of `ccctl seed demo`: the ports of API.md and make run's development token settings.
const (
	defaultOrdersAddr  = "127.0.0.1:9091"
	defaultSupportAddr = "127.0.0.1:9090"
	defaultDevKeyFile  = ".data/dev-signing-key.pem"
	defaultIssuer      = "contactcentre-dev"
	defaultAudience    = "contactcentre"
	seedSubject        = "ccctl-seed"
)

// runSeed implements `ccctl seed demo`: it loads demo customers, tickets and comments through
// the running services' public APIs, so the data passes every rule real traffic does. Every
// write carries a fixed request id and status changes are skipped once reached, so a rerun
// changes nothing.
func runSeed(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("seed", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: ccctl seed demo\n\nenv: ORDERSVC_GRPC_ADDR, SUPPORTSVC_GRPC_ADDR, AUTH_DEV_KEY_FILE, AUTH_ISSUER, AUTH_AUDIENCE")
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 || fs.Arg(0) != "demo" {
		fs.Usage()
		return errors.New("seed: the only data set is \"demo\"")
	}
	env := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}

	key, err := auth.LoadOrCreateDevKey(env("AUTH_DEV_KEY_FILE", defaultDevKeyFile))
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	tok, err := auth.SignToken(key, env("AUTH_ISSUER", defaultIssuer), env("AUTH_AUDIENCE", defaultAudience),
		seedSubject, []auth.Role{auth.RoleAdmin}, time.Hour, time.Now())
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tok)

	ordersConn, err := dial(env("ORDERSVC_GRPC_ADDR", defaultOrdersAddr))
	if err != nil {
		return err
	}
	defer ordersConn.Close()
	supportConn, err := dial(env("SUPPORTSVC_GRPC_ADDR", defaultSupportAddr))
	if err != nil {
		return err
	}
	defer supportConn.Close()

	s := seeder{
		customers: ordersv1.NewCustomerServiceClient(ordersConn),
		orders:    ordersv1.NewOrderServiceClient(ordersConn),
		tickets:   supportv1.NewTicketServiceClient(supportConn),
	}
	if err := s.run(ctx); err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	_, err = fmt.Fprintf(stdout, "seeded demo data: %d customers, %d orders, %d tickets, %d comments; %d status changes applied, %d already done\n",
		s.nCustomers, s.nOrders, s.nTickets, s.nComments, s.nMoved, s.nSkipped)
	return err
}

func dial(addr string) (*grpc.ClientConn, error) {
	// Plaintext is the development default of both services (make run on loopback).
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, fmt.Errorf("seed: dial %s: %w", addr, err)
	}
	return conn, nil
}

type seeder struct {
	customers ordersv1.CustomerServiceClient
	orders    ordersv1.OrderServiceClient
	tickets   supportv1.TicketServiceClient

	nCustomers, nOrders, nTickets, nComments, nMoved, nSkipped int
}

func (s *seeder) run(ctx context.Context) error {
	customerIDs := make([]string, len(demoCustomers))
	byRequest := make(map[string]string, len(demoCustomers))
	for i, c := range demoCustomers {
		reqID := fmt.Sprintf("demo-customer-%d", i+1)
		got, err := s.customers.CreateCustomer(ctx, &ordersv1.CreateCustomerRequest{Customer: c, RequestId: reqID})
		if err != nil {
			return fmt.Errorf("create customer %s: %w", reqID, err)
		}
		customerIDs[i] = got.GetId()
		byRequest[reqID] = got.GetId()
		s.nCustomers++
	}
	n, err := seedDemoOrders(ctx, s.orders, byRequest)
	if err != nil {
		return err
	}
	s.nOrders = n
	for i, dt := range demoTickets {
		reqID := fmt.Sprintf("demo-ticket-%d", i+1)
		t := dt.ticket()
		t.CustomerId = customerIDs[dt.customer]
		got, err := s.tickets.CreateTicket(ctx, &supportv1.CreateTicketRequest{Ticket: t, RequestId: reqID})
		if err != nil {
			return fmt.Errorf("create ticket %s: %w", reqID, err)
		}
		s.nTickets++
		for j, c := range dt.comments {
			_, err := s.tickets.AddComment(ctx, &supportv1.AddCommentRequest{
				TicketId: got.GetId(), Body: c.body, Internal: c.internal,
				RequestId: fmt.Sprintf("demo-ticket-%d-comment-%d", i+1, j+1),
			})
			if err != nil {
				return fmt.Errorf("comment on ticket %s: %w", reqID, err)
			}
			s.nComments++
		}
		if err := s.moveTo(ctx, got.GetId(), dt.status); err != nil {
			return fmt.Errorf("move ticket %s to %s: %w", reqID, dt.status, err)
		}
	}
	return nil
}

// moveTo walks a ticket along NEW -> OPEN -> target, starting from wherever it is now, so that
// a rerun (or a partly completed earlier run) applies only the missing steps. A ticket that
// someone moved off that path since is left alone.
func (s *seeder) moveTo(ctx context.Context, id string, target supportv1.Status) error {
	if target == supportv1.Status_STATUS_UNSPECIFIED || target == supportv1.Status_STATUS_NEW {
		return nil
	}
	path := []supportv1.Status{supportv1.Status_STATUS_NEW, supportv1.Status_STATUS_OPEN}
	if target != supportv1.Status_STATUS_OPEN {
		path = append(path, target)
	}
	cur, err := s.tickets.GetTicket(ctx, &supportv1.GetTicketRequest{Id: id})
	if err != nil {
		return err
	}
	at := slices.Index(path, cur.GetStatus())
	if at < 0 || at == len(path)-1 {
		s.nSkipped++
		return nil
	}
	for _, next := range path[at+1:] {
		cur, err = s.tickets.UpdateTicket(ctx, &supportv1.UpdateTicketRequest{
			Ticket:     &supportv1.Ticket{Id: id, Etag: cur.GetEtag(), Status: next},
			UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"status"}},
		})
		if err != nil {
			return err
		}
	}
	s.nMoved++
	return nil
}

// demoCustomers are buying organisations of the kinds DOMAIN.md names. Domains are .example
// (RFC 2606) and phone numbers use the 555 fiction ranges: nothing here reaches a real person.
var demoCustomers = []*ordersv1.Customer{
	{
		// A title-only contact: the district names a role, not a person.
		OrgName: "Maplewood Unified School District",
		Contact: &ordersv1.Contact{Title: "Director of Purchasing"},
		Address: &ordersv1.Address{Lines: []string{"2200 Maplewood Avenue"}, City: "Portland", PostalCode: "97201", Region: "OR", Country: "US"},
	},
	{
		OrgName:          "Lakeshore Collegiate Institute",
		Contact:          &ordersv1.Contact{Title: "Office Manager", Email: "office@lakeshore-ci.example", Phone: "+1 416 555 0142", MayContact: true},
		Address:          &ordersv1.Address{Lines: []string{"350 Kipling Avenue"}, City: "Toronto", PostalCode: "M8V 3L1", Region: "ON", Country: "CA"},
		MarketingConsent: true,
	},
	{
		OrgName:          "Tulp Leermiddelen B.V.",
		Contact:          &ordersv1.Contact{Title: "Inkoper", Email: "inkoop@tulp-leermiddelen.example", MayContact: true},
		Address:          &ordersv1.Address{Lines: []string{"Oudegracht 120"}, City: "Utrecht", PostalCode: "3511 AX", Country: "NL"},
		MarketingConsent: true,
		ResellerId:       "edu-partners-nl",
	},
	{
		OrgName: "Gesamtschule am Rhein",
		Contact: &ordersv1.Contact{Title: "Schulsekretariat", Email: "sekretariat@gs-am-rhein.example", Phone: "+49 221 555 0170"},
		Address: &ordersv1.Address{Lines: []string{"Rheinuferstraße 8"}, City: "Köln", PostalCode: "50667", Region: "NRW", Country: "DE"},
	},
	{
		OrgName: "Northfield Academy Trust",
		Contact: &ordersv1.Contact{Name: "Priya Shah", Title: "Trust Business Manager", Email: "finance@northfield-trust.example", MayContact: true},
		Address: &ordersv1.Address{Lines: []string{"1 Northfield Road"}, City: "Leeds", PostalCode: "LS1 4AP", Region: "West Yorkshire", Country: "GB"},
	},
	{
		OrgName: "Cliffside Learning Ltd",
		Contact: &ordersv1.Contact{Title: "Accounts", Email: "accounts@cliffside-learning.example", Phone: "+353 1 555 0190", MayContact: true},
		Address: &ordersv1.Address{Lines: []string{"Unit 4, Grand Canal Quay"}, City: "Dublin", PostalCode: "D02 X285", Country: "IE"},
	},
}

type demoComment struct {
	body     string
	internal bool
}

type demoTicket struct {
	customer    int // index into demoCustomers
	channel     supportv1.Channel
	priority    supportv1.Priority
	subject     string
	description string
	contact     *supportv1.Contact
	tags        []string
	comments    []demoComment
	// status is where the seed leaves the ticket; unset leaves it NEW.
	status supportv1.Status
}

func (d demoTicket) ticket() *supportv1.Ticket {
	return &supportv1.Ticket{
		Channel: d.channel, Priority: d.priority, Subject: d.subject, Description: d.description,
		Contact: d.contact, Tags: d.tags,
	}
}

// demoTickets cover all five channels and the minimisation cases: phone callers who give only
// a title, email from role aliases, and error reports with and without consent to contact.
var demoTickets = []demoTicket{
	{
		customer: 0, channel: supportv1.Channel_CHANNEL_PHONE, priority: supportv1.Priority_PRIORITY_HIGH,
		subject:     "Licence count does not match the purchase order",
		description: "Caller reports 200 seats provisioned against an order for 250.",
		contact:     &supportv1.Contact{Title: "Director of Purchasing"},
		tags:        []string{"licensing"},
		comments:    []demoComment{{body: "Checked the order: 250 seats ordered, 200 provisioned. Raised with provisioning.", internal: true}},
		status:      supportv1.Status_STATUS_OPEN,
	},
	{
		customer: 0, channel: supportv1.Channel_CHANNEL_EMAIL, priority: supportv1.Priority_PRIORITY_URGENT,
		subject:     "Teachers cannot sign in after the SSO change",
		description: "Since this morning every teacher at two schools gets an error after the identity provider redirect.",
		contact:     &supportv1.Contact{Email: "helpdesk@maplewood-usd.example", MayContact: true},
		tags:        []string{"sso", "login"},
		comments:    []demoComment{{body: "We have re-synchronised your SSO connection. Could a teacher try again and tell us the result?"}},
		status:      supportv1.Status_STATUS_PENDING,
	},
	{
		customer: 1, channel: supportv1.Channel_CHANNEL_CHAT, priority: supportv1.Priority_PRIORITY_LOW,
		subject:     "How do I export class progress reports?",
		description: "Looking for a CSV export of progress per class for the term review.",
		contact:     &supportv1.Contact{Title: "IT Coordinator", MayContact: true},
		tags:        []string{"reports"},
		comments:    []demoComment{{body: "Reports > Classes > Export gives a CSV per class; the term filter is at the top right."}},
		status:      supportv1.Status_STATUS_SOLVED,
	},
	{
		customer: 1, channel: supportv1.Channel_CHANNEL_FIELD_FORM, priority: supportv1.Priority_PRIORITY_NORMAL,
		subject:     "On-site installation of classroom displays",
		description: "Request for an engineer visit to mount and configure 12 interactive displays in the science wing.",
		contact:     &supportv1.Contact{Title: "Facilities Lead", Email: "facilities@lakeshore-ci.example", MayContact: true},
		tags:        []string{"field-support"},
		status:      supportv1.Status_STATUS_OPEN,
	},
	{
		customer: 2, channel: supportv1.Channel_CHANNEL_EMAIL, priority: supportv1.Priority_PRIORITY_NORMAL,
		subject:     "Factuur mist btw-nummer",
		description: "Op de laatste factuur ontbreekt ons btw-nummer; graag een gecorrigeerde factuur.",
		contact:     &supportv1.Contact{Email: "inkoop@tulp-leermiddelen.example", MayContact: true},
		tags:        []string{"billing"},
		status:      supportv1.Status_STATUS_SOLVED,
	},
	{
		customer: 3, channel: supportv1.Channel_CHANNEL_PHONE, priority: supportv1.Priority_PRIORITY_HIGH,
		subject:     "Audio drops during live lessons",
		description: "Audio cuts out for several seconds every few minutes in live lessons since the last update.",
		contact:     &supportv1.Contact{Title: "Schulsekretariat"},
		tags:        []string{"audio"},
	},
	{
		customer: 4, channel: supportv1.Channel_CHANNEL_ERROR_REPORT, priority: supportv1.Priority_PRIORITY_NORMAL,
		subject:     "Lesson player crashed on slide 12",
		description: "Automatic report: lesson 4711, player 3.8.2, Chrome 131 on ChromeOS. The user chose not to be contacted.",
		contact:     &supportv1.Contact{MayContact: false},
		tags:        []string{"crash"},
	},
	{
		customer: 4, channel: supportv1.Channel_CHANNEL_ERROR_REPORT, priority: supportv1.Priority_PRIORITY_NORMAL,
		subject:     "Quiz results are not saved",
		description: "Quiz answers disappear when the student submits on a tablet; the user added details and may be contacted.",
		contact:     &supportv1.Contact{Email: "ict@northfield-trust.example", MayContact: true},
		tags:        []string{"quiz"},
		comments: []demoComment{
			{body: "Thanks for the report. We can reproduce it and are working on a fix."},
			{body: "Reproduced on iPadOS 18 with Safari; linked to the autosave bug.", internal: true},
		},
		status: supportv1.Status_STATUS_OPEN,
	},
	{
		customer: 5, channel: supportv1.Channel_CHANNEL_PHONE, priority: supportv1.Priority_PRIORITY_NORMAL,
		subject:     "Card payment declined twice",
		description: "The caller's card payment in the store was declined twice with no reason shown.",
		contact:     &supportv1.Contact{Title: "Accounts", Phone: "+353 1 555 0190", MayContact: true},
		tags:        []string{"payments"},
		status:      supportv1.Status_STATUS_PENDING,
	},
	{
		customer: 5, channel: supportv1.Channel_CHANNEL_EMAIL, priority: supportv1.Priority_PRIORITY_LOW,
		subject:     "Copy of the annual invoice",
		description: "Please send a copy of this year's annual subscription invoice for our auditors.",
		contact:     &supportv1.Contact{Email: "accounts@cliffside-learning.example", MayContact: true},
		tags:        []string{"billing"},
	},
}
