package bootstrap

import (
	"fmt"
	"time"

	dataflowv1 "github.com/lumio/contactcentre/internal/gen/contactcentre/dataflow/v1"

	"github.com/lumio/contactcentre/internal/dataflow"
	"github.com/lumio/contactcentre/internal/dataflow/dataflowdb"
	"github.com/lumio/contactcentre/internal/dataflow/dataflowgrpc"
	"github.com/lumio/contactcentre/internal/dataflow/dataflowsink"
)

// ServeDataFlow adds what every process runs for the records it holds: DataFlowService and
// an outbox dispatcher, the one gateway through which anything leaves. Sinks are configured
// per processor by FLOW_SINK_<ID>_URL and _SECRET (lookup); without a URL a processor gets
// the log sink, which records ids only. Outbox outcomes and backlog go to p.Registry.
func (p *Process) ServeDataFlow(lookup func(string) (string, bool), cfg dataflow.DispatchConfig) error {
	store := dataflowdb.New(p.Pool, p.Keyring)
	dataflowv1.RegisterDataFlowServiceServer(p.GRPC, dataflowgrpc.NewServer(dataflow.NewService(store, p.Policy)))
	sinks, err := dataflowsink.FromEnv(lookup, p.Keyring, p.Logger)
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	if err := dataflowdb.RegisterMetrics(p.Registry, p.Pool); err != nil {
		return fmt.Errorf("outbox metrics: %w", err)
	}
	dispatcher := dataflow.NewDispatcher(store, sinks, cfg, p.Logger, func() time.Time { return time.Now().UTC() }).
		WithMetrics(dataflow.NewDispatchMetrics(p.Registry))
	p.Background(dispatcher.Run)
	return nil
}
