package enginetest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// Upstream kinds understood by Run.
const (
	KindH1    = "h1"    // plain HTTP/1.1
	KindH1TLS = "h1tls" // TLS offering only http/1.1
	KindH2C   = "h2c"   // cleartext HTTP/2 with prior knowledge (HTTP/1.1 also served)
	KindH2TLS = "h2tls" // TLS offering h2 and http/1.1 via ALPN
)

// testCA is an in-process certificate authority with one leaf for 127.0.0.1.
type testCA struct {
	pool *x509.CertPool
	leaf tls.Certificate
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("ca key: %v", err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "enginetest CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatalf("ca cert: %v", err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatalf("parse ca: %v", err)
	}
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("leaf key: %v", err)
	}
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:     []string{"localhost"},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, caCert, &leafKey.PublicKey, caKey)
	if err != nil {
		t.Fatalf("leaf cert: %v", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	return &testCA{pool: pool, leaf: tls.Certificate{Certificate: [][]byte{leafDER}, PrivateKey: leafKey}}
}

// upstream is one test server of a given kind on 127.0.0.1.
type upstream struct {
	URL   string
	kind  string
	srv   *http.Server
	conns atomic.Int64 // connections accepted (ConnState StateNew)
	// done is closed when the test ends; handlers that block select on it
	// so that none outlives the test.
	done chan struct{}
}

func isTLS(kind string) bool { return kind == KindH1TLS || kind == KindH2TLS }

// newUpstream starts a server of the given kind serving h. It is shut down
// by t.Cleanup.
func newUpstream(t *testing.T, ca *testCA, kind string, h handler) *upstream {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	u := &upstream{kind: kind, done: make(chan struct{})}
	var p http.Protocols
	switch kind {
	case KindH1, KindH1TLS:
		p.SetHTTP1(true)
	case KindH2C:
		p.SetHTTP1(true)
		p.SetUnencryptedHTTP2(true)
	case KindH2TLS:
		p.SetHTTP1(true)
		p.SetHTTP2(true)
	default:
		t.Fatalf("enginetest: unknown upstream kind %q", kind)
	}
	u.srv = &http.Server{
		Handler:           http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h(u, w, r) }),
		Protocols:         &p,
		ReadHeaderTimeout: 10 * time.Second,
		ConnState: func(_ net.Conn, s http.ConnState) {
			if s == http.StateNew {
				u.conns.Add(1)
			}
		},
		ErrorLog: log.New(io.Discard, "", 0),
	}
	scheme := "http"
	if isTLS(kind) {
		scheme = "https"
		u.srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{ca.leaf}}
	}
	u.URL = scheme + "://" + ln.Addr().String()
	serveErr := make(chan error, 1)
	go func() {
		if isTLS(kind) {
			serveErr <- u.srv.ServeTLS(ln, "", "")
		} else {
			serveErr <- u.srv.Serve(ln)
		}
	}()
	t.Cleanup(func() {
		close(u.done)
		_ = u.srv.Close()
		if err := <-serveErr; err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("upstream serve: %v", err)
		}
	})
	return u
}
