package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/lumio/contactcentre/internal/auth"
	ordersv1 "github.com/lumio/contactcentre/internal/gen/contactcentre/orders/v1"
)

// exportSubject names ccctl's finance token in the services' logs.
const exportSubject = "ccctl-export"

var exportHeader = []string{"order_id", "customer_id", "channel", "reseller_id", "stripe_entity", "country", "currency",
	"status", "create_time", "line_number", "sku", "description", "quantity", "unit_price_minor", "vat_rate_bp",
	"net_minor", "vat_minor"}

// runExport implements `ccctl export --from T --to T --format csv [--out FILE]`: it streams
// ReportingService.ExportOrders and writes one CSV record per order line as it arrives, so
// memory stays constant for any range. With --out it writes FILE.partial and renames it only
// when the stream ended cleanly, so an interrupted export never looks complete.
func runExport(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("export", flag.ContinueOnError)
	fs.SetOutput(stderr)
	from := fs.String("from", "", "start of the range, inclusive (RFC 3339 or YYYY-MM-DD, UTC)")
	to := fs.String("to", "", "end of the range, exclusive (RFC 3339 or YYYY-MM-DD, UTC)")
	format := fs.String("format", "csv", "output format: csv")
	out := fs.String("out", "", "write to FILE instead of standard output")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: ccctl export --from T --to T [--format csv] [--out FILE]\n\nenv: ORDERSVC_GRPC_ADDR, AUTH_DEV_KEY_FILE, AUTH_ISSUER, AUTH_AUDIENCE")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		fs.Usage()
		return errors.New("export: unexpected arguments")
	}
	if *format != "csv" {
		return fmt.Errorf("export: unknown --format %q (only csv)", *format)
	}
	start, err := parseDay("--from", *from)
	if err != nil {
		return err
	}
	end, err := parseDay("--to", *to)
	if err != nil {
		return err
	}
	env := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	key, err := auth.LoadOrCreateDevKey(env("AUTH_DEV_KEY_FILE", defaultDevKeyFile))
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	// The token outlives the longest stream the server allows (its stream deadline is 10 min).
	tok, err := auth.SignToken(key, env("AUTH_ISSUER", defaultIssuer), env("AUTH_AUDIENCE", defaultAudience),
		exportSubject, []auth.Role{auth.RoleFinance}, time.Hour, time.Now())
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	conn, err := dial(env("ORDERSVC_GRPC_ADDR", defaultOrdersAddr))
	if err != nil {
		return err
	}
	defer conn.Close()

	w, finish, err := exportSink(*out, stdout)
	if err != nil {
		return err
	}
	n, err := streamCSV(metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tok),
		ordersv1.NewReportingServiceClient(conn), start, end, w)
	if err = finish(err); err != nil {
		return fmt.Errorf("export: %w", err)
	}
	if *out != "" {
		fmt.Fprintf(stderr, "exported %d order lines to %s\n", n, *out)
	}
	return nil
}

// exportSink returns a buffered writer for out ("" is stdout) and a finish function that
// flushes it and, for a file, renames the partial file into place only if err is nil.
func exportSink(out string, stdout io.Writer) (*bufio.Writer, func(error) error, error) {
	if out == "" {
		w := bufio.NewWriterSize(stdout, 64<<10)
		return w, func(err error) error { return errors.Join(err, w.Flush()) }, nil
	}
	partial := out + ".partial"
	f, err := os.Create(filepath.Clean(partial))
	if err != nil {
		return nil, nil, fmt.Errorf("export: %w", err)
	}
	w := bufio.NewWriterSize(f, 64<<10)
	return w, func(err error) error {
		err = errors.Join(err, w.Flush(), f.Close())
		if err != nil {
			_ = os.Remove(partial)
			return err
		}
		return os.Rename(partial, out)
	}, nil
}

// streamCSV writes the header and one record per streamed line; it returns how many lines it
// wrote. Each message is written and forgotten before the next Recv.
func streamCSV(ctx context.Context, client ordersv1.ReportingServiceClient, start, end time.Time, w io.Writer) (int64, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // a write error ends the stream on the server too
	stream, err := client.ExportOrders(ctx, &ordersv1.ExportOrdersRequest{
		StartTime: timestamppb.New(start), EndTime: timestamppb.New(end),
	})
	if err != nil {
		return 0, err
	}
	cw := csv.NewWriter(w)
	if err := cw.Write(exportHeader); err != nil {
		return 0, err
	}
	rec := make([]string, len(exportHeader))
	var n int64
	for {
		m, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			cw.Flush()
			return n, cw.Error()
		}
		if err != nil {
			return n, err
		}
		rec[0], rec[1], rec[2], rec[3] = m.GetOrderId(), m.GetCustomerId(), m.GetChannel(), m.GetResellerId()
		rec[4], rec[5], rec[6], rec[7] = m.GetStripeEntity(), m.GetCountry(), m.GetCurrency(), m.GetStatus()
		rec[8] = m.GetCreateTime().AsTime().Format(time.RFC3339Nano)
		rec[9] = strconv.FormatInt(int64(m.GetLineNumber()), 10)
		rec[10], rec[11] = m.GetSku(), m.GetDescription()
		rec[12] = strconv.FormatInt(m.GetQuantity(), 10)
		rec[13] = strconv.FormatInt(m.GetUnitPriceMinor(), 10)
		rec[14] = strconv.FormatInt(int64(m.GetVatRateBp()), 10)
		rec[15] = strconv.FormatInt(m.GetNetMinor(), 10)
		rec[16] = strconv.FormatInt(m.GetVatMinor(), 10)
		if err := cw.Write(rec); err != nil {
			return n, err
		}
		n++
	}
}

// parseDay reads an RFC 3339 time or a YYYY-MM-DD date (midnight UTC).
func parseDay(flagName, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, fmt.Errorf("export: %s is required", flagName)
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t.UTC(), nil
	}
	t, err := time.Parse(time.DateOnly, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("export: %s: want RFC 3339 or YYYY-MM-DD", flagName)
	}
	return t, nil
}
