package bootstrap

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// TLSConfig names the certificate files both listeners serve. With CertFile and KeyFile empty
// the services speak plaintext, which is what make run does on loopback.
type TLSConfig struct {
	CertFile string `env:"TLS_CERT_FILE"`
	KeyFile  string `env:"TLS_KEY_FILE"`
	// ClientCAFile turns on mutual TLS for gRPC: callers (the storefront's service-to-service
	// calls) must present a certificate signed by one of these CAs. The HTTP listener never
	// asks for one: Twilio, Stripe and the probes cannot present it.
	ClientCAFile string `env:"GRPC_CLIENT_CA_FILE"`
}

// Enabled reports whether TLS is configured.
func (c TLSConfig) Enabled() bool { return c.CertFile != "" || c.KeyFile != "" }

// reloadCheckEvery throttles the certificate files' stat calls to one per interval, however
// many handshakes arrive.
const reloadCheckEvery = time.Second

// serverTLS returns the gRPC and HTTP TLS configurations, or nils when TLS is off. The key
// pair is reloaded when its files change (cert-manager renews them in place), so a renewal
// needs no restart; the client CA bundle is read once.
func serverTLS(cfg TLSConfig, logger *slog.Logger) (grpcTLS, httpTLS *tls.Config, err error) {
	if !cfg.Enabled() {
		if cfg.ClientCAFile != "" {
			return nil, nil, errors.New("configuration: GRPC_CLIENT_CA_FILE needs TLS_CERT_FILE and TLS_KEY_FILE")
		}
		return nil, nil, nil
	}
	if cfg.CertFile == "" || cfg.KeyFile == "" {
		return nil, nil, errors.New("configuration: TLS_CERT_FILE and TLS_KEY_FILE must be set together")
	}
	r := &certReloader{certFile: cfg.CertFile, keyFile: cfg.KeyFile, logger: logger, now: time.Now}
	if err := r.load(); err != nil {
		return nil, nil, fmt.Errorf("configuration: TLS_CERT_FILE/TLS_KEY_FILE: %w", err)
	}
	httpTLS = &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: r.getCertificate}
	grpcTLS = httpTLS.Clone()
	if cfg.ClientCAFile != "" {
		pem, err := os.ReadFile(cfg.ClientCAFile)
		if err != nil {
			return nil, nil, fmt.Errorf("configuration: GRPC_CLIENT_CA_FILE: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, nil, errors.New("configuration: GRPC_CLIENT_CA_FILE holds no PEM certificate")
		}
		grpcTLS.ClientCAs = pool
		grpcTLS.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return grpcTLS, httpTLS, nil
}

// certReloader serves the key pair from disk and picks up a renewed pair on the next
// handshake after the files change. A half-written renewal keeps the previous pair in use.
type certReloader struct {
	certFile, keyFile string
	logger            *slog.Logger
	now               func() time.Time

	mu        sync.Mutex
	cert      *tls.Certificate
	certMod   time.Time
	keyMod    time.Time
	lastCheck time.Time
}

func (r *certReloader) load() error {
	certMod, keyMod, err := r.modTimes()
	if err != nil {
		return err
	}
	cert, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		return err
	}
	r.cert, r.certMod, r.keyMod = &cert, certMod, keyMod
	return nil
}

func (r *certReloader) modTimes() (certMod, keyMod time.Time, err error) {
	ci, err := os.Stat(r.certFile)
	if err != nil {
		return time.Time{}, time.Time{}, err
	}
	ki, err := os.Stat(r.keyFile)
	if err != nil {
		return time.Time{}, time.Time{}, err
	}
	return ci.ModTime(), ki.ModTime(), nil
}

func (r *certReloader) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	if now.Sub(r.lastCheck) < reloadCheckEvery {
		return r.cert, nil
	}
	r.lastCheck = now
	certMod, keyMod, err := r.modTimes()
	if err != nil || (certMod.Equal(r.certMod) && keyMod.Equal(r.keyMod)) {
		return r.cert, nil
	}
	if err := r.load(); err != nil {
		r.logger.Warn("TLS key pair changed but does not load; keeping the previous one", "error", err.Error())
		return r.cert, nil
	}
	r.logger.Info("TLS key pair reloaded", "cert_file", r.certFile)
	return r.cert, nil
}
