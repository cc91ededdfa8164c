// Command baregrpc is the benchmark baseline: a grpc-go server with nothing but the health
// service, so the load generator measures what gRPC itself costs on this machine.
package main

import (
	"flag"
	"fmt"
	"net"
	"os"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:9190", "listen address")
	flag.Parse()
	lis, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "baregrpc:", err)
		os.Exit(1)
	}
	srv := grpc.NewServer()
	healthpb.RegisterHealthServer(srv, health.NewServer())
	reflection.Register(srv)
	if err := srv.Serve(lis); err != nil {
		fmt.Fprintln(os.Stderr, "baregrpc:", err)
		os.Exit(1)
	}
}
