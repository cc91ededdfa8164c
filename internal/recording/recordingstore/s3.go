package recordingstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/lumio/contactcentre/internal/recording"
)

// S3Config names the bucket. Credentials come from the SDK's default chain (environment,
// shared config, instance or pod role), never from this service's configuration.
type S3Config struct {
	Bucket string
	// Region places the audio (e.g. us-east-1 or eu-west-1).
	Region string
	// Endpoint is set for S3-compatible stores (MinIO, Ceph); empty means AWS.
	Endpoint string
	// Prefix is prepended to every key, e.g. "recordings/".
	Prefix string
}

// S3 stores objects in an S3-compatible bucket with server-side encryption on top of ours.
type S3 struct {
	client *s3.Client
	cfg    S3Config
}

var _ recording.Objects = (*S3)(nil)

// NewS3 returns an S3 store. It does not contact the bucket.
func NewS3(ctx context.Context, cfg S3Config) (*S3, error) {
	if cfg.Bucket == "" || cfg.Region == "" {
		return nil, errors.New("recording store: s3 needs a bucket and a region")
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, config.WithRegion(cfg.Region))
	if err != nil {
		return nil, fmt.Errorf("recording store: aws config: %w", err)
	}
	client := s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
			// S3-compatible servers rarely serve virtual-hosted bucket names.
			o.UsePathStyle = true
		}
	})
	return &S3{client: client, cfg: cfg}, nil
}

func (s *S3) key(key string) *string { return aws.String(s.cfg.Prefix + key) }

// Put uploads an object.
func (s *S3) Put(ctx context.Context, key string, data []byte) error {
	if err := checkKey(key); err != nil {
		return err
	}
	_, err := s.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(s.cfg.Bucket), Key: s.key(key), Body: bytes.NewReader(data),
		ContentLength:        aws.Int64(int64(len(data))),
		ServerSideEncryption: types.ServerSideEncryptionAes256,
	})
	if err != nil {
		return fmt.Errorf("recording store: put: %w", err)
	}
	return nil
}

// Get downloads an object. Errors: recording.ErrObjectNotFound.
func (s *S3) Get(ctx context.Context, key string) ([]byte, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.cfg.Bucket), Key: s.key(key)})
	var nsk *types.NoSuchKey
	if errors.As(err, &nsk) {
		return nil, recording.ErrObjectNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("recording store: get: %w", err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		return nil, fmt.Errorf("recording store: read: %w", err)
	}
	return b, nil
}

// Delete removes an object; S3 treats a missing key as deleted.
func (s *S3) Delete(ctx context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if _, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(s.cfg.Bucket), Key: s.key(key)}); err != nil {
		return fmt.Errorf("recording store: delete: %w", err)
	}
	return nil
}
