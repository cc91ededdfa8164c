package bootstrap

import (
	"fmt"
	"net/url"
	"strings"
	"time"
)

// DatabaseTimeouts bound every PostgreSQL call a service makes, on top of the RPC deadline:
// a statement that runs away is cancelled by the server even if no client is waiting any more,
// and an unreachable server fails a connection attempt fast instead of after the OS's minutes.
type DatabaseTimeouts struct {
	Statement time.Duration `env:"DATABASE_STATEMENT_TIMEOUT, default=15s"`
	Connect   time.Duration `env:"DATABASE_CONNECT_TIMEOUT, default=5s"`
}

// withTimeouts adds statement_timeout and connect_timeout to a PostgreSQL URL or keyword/value
// connection string, unless it sets them already (an explicit setting in DATABASE_URL wins).
// pgx sends statement_timeout as a run-time parameter at connection start, so it applies to
// every statement on every pooled connection without a round trip per query.
func withTimeouts(dsn string, t DatabaseTimeouts) string {
	params := map[string]string{}
	if t.Statement > 0 {
		params["statement_timeout"] = fmt.Sprint(t.Statement.Milliseconds())
	}
	if t.Connect > 0 {
		// connect_timeout is in whole seconds; round up so that 500ms does not mean "none".
		params["connect_timeout"] = fmt.Sprint(int64((t.Connect + time.Second - 1) / time.Second))
	}
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			return dsn // postgres.Open reports the malformed URL without echoing it
		}
		q := u.Query()
		for k, v := range params {
			if q.Get(k) == "" {
				q.Set(k, v)
			}
		}
		u.RawQuery = q.Encode()
		return u.String()
	}
	for _, k := range []string{"statement_timeout", "connect_timeout"} {
		if v, ok := params[k]; ok && !strings.Contains(dsn, k+"=") {
			dsn += " " + k + "=" + v
		}
	}
	return dsn
}
