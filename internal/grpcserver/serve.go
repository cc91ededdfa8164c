package grpcserver

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
)

// Serve serves srv on lis until ctx is done, then drains: health turns NOT_SERVING so that load
// balancers stop sending new calls, and in-flight RPCs get up to grace to finish before the
// remaining connections are closed. It returns nil after a graceful stop, and an error if
// serving failed or the grace period ran out.
func Serve(ctx context.Context, srv *grpc.Server, lis net.Listener, hs *health.Server, grace time.Duration) error {
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()

	select {
	case err := <-served:
		return fmt.Errorf("grpc serve: %w", err)
	case <-ctx.Done():
	}

	if hs != nil {
		hs.Shutdown()
	}
	stopped := make(chan struct{})
	go func() {
		srv.GracefulStop()
		close(stopped)
	}()
	timer := time.NewTimer(grace)
	defer timer.Stop()
	var drainErr error
	select {
	case <-stopped:
	case <-timer.C:
		srv.Stop()
		<-stopped
		drainErr = fmt.Errorf("grpc: in-flight RPCs still running after %s; connections closed", grace)
	}
	if err := <-served; err != nil && !errors.Is(err, grpc.ErrServerStopped) {
		return fmt.Errorf("grpc serve: %w", err)
	}
	return drainErr
}
