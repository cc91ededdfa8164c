// Package recordinggrpc serves RecordingService: thin handlers that convert requests to the
// recording domain and its results back to proto. Errors are the domain's; the shared
// interceptor maps them to status codes.
package recordinggrpc

import (
	"context"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/lumio/contactcentre/internal/auth"
	supportv1 "github.com/lumio/contactcentre/internal/gen/contactcentre/support/v1"
	"github.com/lumio/contactcentre/internal/recording"
)

// Server implements supportv1.RecordingServiceServer.
type Server struct {
	supportv1.UnimplementedRecordingServiceServer
	svc *recording.Service
}

var _ supportv1.RecordingServiceServer = (*Server)(nil)

// NewServer returns a Server on svc.
func NewServer(svc *recording.Service) *Server { return &Server{svc: svc} }

func identity(ctx context.Context) auth.Identity {
	id, _ := auth.FromContext(ctx)
	return id
}

// SetRecordingOptOut implements supportv1.RecordingServiceServer.
func (s *Server) SetRecordingOptOut(ctx context.Context, req *supportv1.SetRecordingOptOutRequest) (*supportv1.SetRecordingOptOutResponse, error) {
	n, err := s.svc.SetRecordingOptOut(ctx, identity(ctx).Subject, req.GetTicketId(), req.GetOptOut())
	if err != nil {
		return nil, err
	}
	return &supportv1.SetRecordingOptOutResponse{
		TicketId: req.GetTicketId(), OptOut: req.GetOptOut(), RecordingsDeleted: int32(n),
	}, nil
}

// ListRecordings implements supportv1.RecordingServiceServer.
func (s *Server) ListRecordings(ctx context.Context, req *supportv1.ListRecordingsRequest) (*supportv1.ListRecordingsResponse, error) {
	recs, err := s.svc.ListRecordings(ctx, req.GetTicketId())
	if err != nil {
		return nil, err
	}
	out := &supportv1.ListRecordingsResponse{Recordings: make([]*supportv1.Recording, len(recs))}
	for i, r := range recs {
		out.Recordings[i] = toProto(r)
	}
	return out, nil
}

// GetRecording implements supportv1.RecordingServiceServer. The download link that
// supervisors and admins get waits for a Recording.download_url field in the proto.
func (s *Server) GetRecording(ctx context.Context, req *supportv1.GetRecordingRequest) (*supportv1.Recording, error) {
	r, _, err := s.svc.GetRecording(ctx, identity(ctx), req.GetId())
	if err != nil {
		return nil, err
	}
	return toProto(r), nil
}

// DeleteRecording implements supportv1.RecordingServiceServer.
func (s *Server) DeleteRecording(ctx context.Context, req *supportv1.DeleteRecordingRequest) (*supportv1.Recording, error) {
	r, err := s.svc.DeleteRecording(ctx, identity(ctx), req.GetId(), req.GetReason())
	if err != nil {
		return nil, err
	}
	return toProto(r), nil
}

// status maps the lifecycle to the public enum: audio on its way to our store is not STORED
// yet, and audio being purged is already DELETED for every user.
func status(s recording.Status) supportv1.RecordingStatus {
	switch {
	case s == recording.StatusStored:
		return supportv1.RecordingStatus_RECORDING_STATUS_STORED
	case s.Gone():
		return supportv1.RecordingStatus_RECORDING_STATUS_DELETED
	default:
		return supportv1.RecordingStatus_RECORDING_STATUS_UNSPECIFIED
	}
}

func toProto(r recording.Recording) *supportv1.Recording {
	out := &supportv1.Recording{
		Id: r.ID, TicketId: r.TicketID, CallSid: r.CallSID, RecordingSid: r.RecordingSID,
		Status: status(r.Status), DurationSeconds: r.DurationSeconds,
		AllowedSubprocessors: r.AllowedSubprocessors, CreateTime: timestamppb.New(r.CreateTime),
	}
	if r.DeleteTime != nil {
		out.DeleteTime = timestamppb.New(*r.DeleteTime)
	}
	return out
}
