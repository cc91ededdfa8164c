// Package grpctest serves gRPC handlers in-process over bufconn behind the real interceptor
// chain (token verification, the role table, error mapping), for handler tests that assert
// status codes the way a client sees them.
package grpctest

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/test/bufconn"

	"github.com/lumio/contactcentre/internal/auth"
	"github.com/lumio/contactcentre/internal/grpcserver"
)

const (
	issuer   = "grpctest"
	audience = "grpctest"
)

// Server is a running in-process server and a client connection to it.
type Server struct {
	Conn *grpc.ClientConn
	priv ed25519.PrivateKey
}

// New starts a server with the production interceptors, lets register add services to it,
// and stops it when the test ends.
func New(t testing.TB, register func(*grpc.Server)) *Server {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	srv, _ := grpcserver.New(nil, auth.NewDevVerifier(pub, issuer, audience), nil, grpcserver.Config{})
	register(srv)
	lis := bufconn.Listen(1 << 20)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient("passthrough:///bufconn",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return &Server{Conn: conn, priv: priv}
}

// As returns a context that calls as subject with the given roles (no roles: a valid token
// that may call nothing but what every role may).
func (s *Server) As(t testing.TB, subject string, roles ...auth.Role) context.Context {
	t.Helper()
	tok, err := auth.SignToken(s.priv, issuer, audience, subject, roles, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+tok)
}
