package main

import (
	"context"
	"encoding/csv"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/lumio/contactcentre/internal/dataflow"
)

// runSubprocessors implements `ccctl subprocessors [--format markdown|csv]`: the public
// subprocessor disclosure, generated from the registry the gateway enforces. A processor the
// published policy does not list (twilio) is shown as not disclosed, so that the gap is visible
// rather than silently omitted.
func runSubprocessors(_ context.Context, args []string, _ func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("subprocessors", flag.ContinueOnError)
	fs.SetOutput(stderr)
	format := fs.String("format", "markdown", "output format: markdown or csv")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("subprocessors: unexpected argument %q", fs.Arg(0))
	}
	reg := dataflow.Registry()
	switch *format {
	case "markdown", "md":
		return subprocessorsMarkdown(stdout, reg)
	case "csv":
		return subprocessorsCSV(stdout, reg)
	}
	return fmt.Errorf("subprocessors: --format must be markdown or csv, not %q", *format)
}

func subprocessorsMarkdown(w io.Writer, reg []dataflow.Subprocessor) error {
	var b strings.Builder
	b.WriteString("# Subprocessors\n\n")
	b.WriteString("| id | legal name | countries | role | purpose | data | transfer basis (EU/EEA customers) | disclosed |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|\n")
	for _, p := range reg {
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s | %s | %s | %s |\n",
			p.ID, cell(p.LegalName), strings.Join(p.Countries, ", "), cell(strings.Join(p.Roles, ", ")),
			cell(p.Purpose), p.Data, cell(p.TransferBasis), yesNo(p.Disclosed, "yes", "**no**: not in the published policy"))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func subprocessorsCSV(w io.Writer, reg []dataflow.Subprocessor) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"id", "legal_name", "countries", "roles", "purpose", "data", "transfer_basis", "disclosed"})
	for _, p := range reg {
		_ = cw.Write([]string{p.ID, p.LegalName, strings.Join(p.Countries, ";"), strings.Join(p.Roles, ";"),
			p.Purpose, string(p.Data), p.TransferBasis, yesNo(p.Disclosed, "true", "false")})
	}
	cw.Flush()
	return cw.Error()
}

// cell escapes the one character that would break a markdown table row.
func cell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

func yesNo(b bool, yes, no string) string {
	if b {
		return yes
	}
	return no
}
