package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/sethvargo/go-envconfig"

	"github.com/lumio/contactcentre/internal/auth"
)

// runToken implements `ccctl token --role ROLE [--role ROLE|,ROLE...] [--sub NAME] [--ttl D]`:
// it prints a bearer token signed with the development key, which the services accept in
// their default configuration.
func runToken(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var roles roleList
	fs.Var(&roles, "role", "role to grant (repeatable or comma-separated): agent, supervisor, storefront, sales, finance, privacy_officer, admin")
	sub := fs.String("sub", "", `token subject (default "dev-<role>")`)
	ttl := fs.Duration("ttl", 12*time.Hour, "token lifetime")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("token: unexpected argument %q", fs.Arg(0))
	}
	if len(roles) == 0 {
		return errors.New("token: --role is required")
	}
	if *ttl <= 0 {
		return errors.New("token: --ttl must be positive")
	}
	if *sub == "" {
		*sub = "dev-" + roles.String()
	}

	var cfg auth.Config
	lookup := envconfig.LookuperFunc(func(key string) (string, bool) {
		v := getenv(key)
		return v, v != ""
	})
	if err := envconfig.ProcessWith(ctx, &envconfig.Config{Target: &cfg, Lookuper: lookup}); err != nil {
		return fmt.Errorf("token: %w", err)
	}
	if cfg.JWKSURL != "" {
		// Services verifying against an issuer's JWKS would reject our key anyway; refusing
		// here says so plainly instead of printing a token that cannot work.
		return errors.New("token: AUTH_JWKS_URL is set, so tokens come from that issuer; ccctl signs development tokens only")
	}
	key, err := auth.LoadOrCreateDevKey(cfg.DevKeyFile)
	if err != nil {
		return fmt.Errorf("token: %w", err)
	}
	tok, err := auth.SignToken(key, cfg.Issuer, cfg.Audience, *sub, roles, *ttl, time.Now())
	if err != nil {
		return fmt.Errorf("token: %w", err)
	}
	_, err = fmt.Fprintln(stdout, tok)
	return err
}

// roleList is a flag.Value collecting roles from repeated and comma-separated --role flags.
type roleList []auth.Role

func (l *roleList) String() string {
	if l == nil {
		return ""
	}
	s := make([]string, len(*l))
	for i, r := range *l {
		s[i] = string(r)
	}
	return strings.Join(s, "-")
}

func (l *roleList) Set(v string) error {
	for name := range strings.SplitSeq(v, ",") {
		r, err := auth.ParseRole(strings.TrimSpace(name))
		if err != nil {
			return err
		}
		*l = append(*l, r)
	}
	return nil
}
