// Command ccctl is the operator's tool: development tokens, database migrations, demo data.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

const usage = `usage: ccctl COMMAND [flags]

commands:
  token --role ROLE [--sub NAME] [--ttl D]   print a development bearer token
  migrate up|down [--steps N]                apply or revert schema migrations (DATABASE_URL)
  seed demo                                  load demo data through the running services
  seed --orders N [--days D] [--end T] [--seed S]   COPY benchmark orders into DATABASE_URL
  export --from T --to T [--format csv] [--out F]   stream order lines as CSV (finance token)
  subprocessors [--format markdown|csv]      print the public subprocessor disclosure
  ropa                                       print the GDPR Art. 30 record of processing
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "ccctl:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("missing command")
	}
	switch args[0] {
	case "token":
		return runToken(ctx, args[1:], getenv, stdout, stderr)
	case "migrate":
		return runMigrate(ctx, args[1:], getenv, stdout, stderr)
	case "seed":
		if len(args) > 1 && (args[1] == "--orders" || args[1] == "-orders" || strings.HasPrefix(args[1], "--orders=")) {
			return runSeedOrders(ctx, args[1:], getenv, stdout, stderr)
		}
		return runSeed(ctx, args[1:], getenv, stdout, stderr)
	case "export":
		return runExport(ctx, args[1:], getenv, stdout, stderr)
	case "subprocessors":
		return runSubprocessors(ctx, args[1:], getenv, stdout, stderr)
	case "ropa":
		return runRopa(ctx, args[1:], getenv, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}
