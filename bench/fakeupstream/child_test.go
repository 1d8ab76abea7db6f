package fakeupstream

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"
)

// buildCommand builds bench/cmd/fakeupstream into a temp directory.
func buildCommand(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds bench/cmd/fakeupstream")
	}
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH")
	}
	bin := filepath.Join(t.TempDir(), "fakeupstream")
	cmd := exec.Command(gobin, "build", "-o", bin, "github.com/ccproxy/ccproxy/bench/cmd/fakeupstream")
	cmd.Env = append(cmd.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// postChild sends a chat completion to a child with c.
func postChild(t *testing.T, c *http.Client, base, body string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(bounded(t), http.MethodPost, base+"/v1/chat/completions", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer sk-test")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, readAll(t, resp.Body))
	}
	return resp
}

// waitGone fails the test unless the child exits within 10 s.
func waitGone(t *testing.T, ch *Child, why string) {
	t.Helper()
	select {
	case <-ch.Done():
	case <-time.After(10 * time.Second):
		t.Fatalf("the child did not exit within 10 s of %s", why)
	}
}

// TestSpawn runs the real command as a child process through Spawn: it
// serves chat completions, obeys SetOptions, reports Stats and the last
// request through the control surface, serves TLS with its CA, and exits
// when its stdin closes or on SIGTERM.
func TestSpawn(t *testing.T) {
	bin := buildCommand(t)

	t.Run("h1", func(t *testing.T) {
		ch, err := Spawn(bin, Options{TextOnly: true, Chunks: 4})
		if err != nil {
			t.Fatal(err)
		}
		defer ch.Close()
		if ch.Protocol() != H1 || !strings.HasPrefix(ch.URL(), "http://127.0.0.1:") || ch.URL() != "http://"+ch.Addr() || ch.CAPEM() != nil {
			t.Fatalf("child at %s (%s), proto %s", ch.URL(), ch.Addr(), ch.Protocol())
		}
		c := &http.Client{Transport: &http.Transport{}}
		defer c.CloseIdleConnections()
		tools := `,"tools":[{"type":"function","function":{"name":"Bash","parameters":{}}}]`
		body := chatBody(true, true, tools)
		resp := postChild(t, c, ch.URL(), body)
		if n := contentChunks(t, resp.Body); n != 4 {
			t.Fatalf("%d content chunks; want the spawned -chunks 4 (and -text-only: no tool call)", n)
		}
		resp.Body.Close()

		if err := ch.SetOptions(func(o *Options) { o.Chunks, o.ChunkInterval = 2, time.Millisecond }); err != nil {
			t.Fatal(err)
		}
		o, err := ch.Options()
		if err != nil || o.Chunks != 2 || o.ChunkInterval != time.Millisecond || !o.TextOnly {
			t.Fatalf("options after SetOptions: %+v, %v", o, err)
		}
		resp = postChild(t, c, ch.URL(), body)
		if n := contentChunks(t, resp.Body); n != 2 {
			t.Fatalf("%d content chunks after SetOptions(Chunks=2)", n)
		}
		resp.Body.Close()
		if err := ch.SetOptions(func(o *Options) { o.Compression = "lz4" }); err == nil || !strings.Contains(err.Error(), "400") {
			t.Fatalf("an invalid option was not refused: %v", err)
		}

		st, err := ch.Stats()
		if err != nil || st.ConnsAccepted != 1 || st.Requests != 2 || st.Streams != 2 {
			t.Fatalf("stats %+v, %v: want one client connection, two streams", st, err)
		}
		c.CloseIdleConnections() // the next request opens a new connection
		resp = postChild(t, c, ch.URL(), chatBody(false, false, ""))
		readAll(t, resp.Body)
		resp.Body.Close()
		if st, err = ch.Stats(); err != nil || st.ConnsAccepted != 2 || st.Requests != 3 {
			t.Fatalf("stats %+v, %v: want the new connection counted", st, err)
		}
		rec, err := ch.LastRequest()
		if err != nil || rec.Path != "/v1/chat/completions" || string(rec.Body) != chatBody(false, false, "") || rec.Header.Get("Authorization") != "Bearer sk-test" {
			t.Fatalf("last request %+v, %v", rec, err)
		}

		// The parent's end of stdin closes: the child exits by itself.
		if err := ch.stdin.Close(); err != nil {
			t.Fatal(err)
		}
		waitGone(t, ch, "its stdin closing")
		if ch.exitErr != nil {
			t.Fatalf("exit on stdin EOF: %v: %s", ch.exitErr, ch.LogTail())
		}
		if _, err := net.DialTimeout("tcp", ch.Addr(), time.Second); err == nil {
			t.Fatal("the exited child's port still accepts connections")
		}
	})

	t.Run("tls", func(t *testing.T) {
		ch, err := Spawn(bin, Options{Protocol: TLS})
		if err != nil {
			t.Fatal(err)
		}
		defer ch.Close()
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(ch.CAPEM()) || !strings.HasPrefix(ch.URL(), "https://") {
			t.Fatalf("child CA %q, URL %s", ch.CAPEM(), ch.URL())
		}
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}
		c := &http.Client{Transport: tr}
		defer c.CloseIdleConnections()
		resp := postChild(t, c, ch.URL(), chatBody(false, false, ""))
		readAll(t, resp.Body)
		resp.Body.Close()
		if resp.Proto != "HTTP/2.0" {
			t.Fatalf("proto %s, want h2 over TLS", resp.Proto)
		}
		st, err := ch.Stats()
		if err != nil || st.ByProto["HTTP/2.0"] != 1 || st.ConnsAccepted != 1 {
			t.Fatalf("stats over the TLS control connection: %+v, %v", st, err)
		}
	})

	t.Run("sigterm", func(t *testing.T) {
		ch, err := Spawn(bin, Options{Protocol: H2C})
		if err != nil {
			t.Fatal(err)
		}
		defer ch.Close()
		if err := ch.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		waitGone(t, ch, "SIGTERM")
		if ch.exitErr != nil || !strings.Contains(ch.LogTail(), "stopping") {
			t.Fatalf("exit on SIGTERM: %v: %s", ch.exitErr, ch.LogTail())
		}
	})

	t.Run("close", func(t *testing.T) {
		ch, err := Spawn(bin, Options{})
		if err != nil {
			t.Fatal(err)
		}
		ch.Close()
		select {
		case <-ch.Done():
		default:
			t.Fatal("Close returned before the child exited")
		}
		ch.Close() // idempotent
		if _, err := ch.Stats(); err == nil {
			t.Fatal("Stats of a closed child succeeded")
		}
	})

	t.Run("start-up failure", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		_, err = Spawn(bin, Options{Addr: ln.Addr().String()})
		if err == nil || !strings.Contains(err.Error(), "exited before it was ready") || !strings.Contains(err.Error(), "address already in use") {
			t.Fatalf("spawn on a taken port: %v", err)
		}
		if _, err := Spawn(filepath.Join(t.TempDir(), "missing"), Options{}); err == nil {
			t.Fatal("spawn of a missing binary succeeded")
		}
		if _, err := Spawn(bin, Options{Compression: "lz4"}); err == nil {
			t.Fatal("spawn with invalid options succeeded")
		}
	})
}

// TestTailBuffer keeps the last bytes only.
func TestTailBuffer(t *testing.T) {
	var tb tailBuffer
	big := bytes.Repeat([]byte("x"), stderrTail)
	tb.Write(big)
	tb.Write([]byte("end"))
	if b := tb.Bytes(); len(b) != stderrTail || !bytes.HasSuffix(b, []byte("xend")) {
		t.Fatalf("tail of %d bytes ending %q", len(b), b[len(b)-4:])
	}
}

// TestSpawnPassesEveryOption: every option a benchmark sets reaches the
// child as it would an in-process server (through Spawn's flags), reads
// back unchanged through the control surface, and ControlOptions carries
// every field of Options but those fixed at start: a field added to
// Options and forgotten in either would silently run the child with its
// default.
func TestSpawnPassesEveryOption(t *testing.T) {
	fixed := map[string]bool{"Protocol": true, "Addr": true, "Control": true, "Logger": true}
	ot, ct := reflect.TypeFor[Options](), reflect.TypeFor[ControlOptions]()
	for i := range ot.NumField() {
		f := ot.Field(i)
		if fixed[f.Name] {
			continue
		}
		if cf, ok := ct.FieldByName(f.Name); !ok || cf.Type != f.Type {
			t.Errorf("ControlOptions lacks Options.%s (%s): the control surface cannot read or set it", f.Name, f.Type)
		}
	}
	if ct.NumField() != ot.NumField()-len(fixed) {
		t.Errorf("ControlOptions has %d fields, Options %d of which %d are fixed at start", ct.NumField(), ot.NumField(), len(fixed))
	}

	bin := buildCommand(t)
	want := Options{HeaderDelay: 3 * time.Millisecond, FirstChunkDelay: 5 * time.Millisecond, ChunkInterval: 7 * time.Millisecond,
		Chunks: 9, ReplyBytes: 123, Compression: "gzip", Reasoning: true, TextOnly: true}
	ch, err := Spawn(bin, want)
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	got, err := ch.Options()
	if err != nil {
		t.Fatal(err)
	}
	if controlOptions(got) != controlOptions(want) {
		t.Fatalf("the child runs with %+v; spawned with %+v", controlOptions(got), controlOptions(want))
	}
}
