//go:build !race

package proxy

import (
	"io"
	"os"
	"os/exec"
	"runtime/debug"
	"strings"
	"testing"
)

// TestStreamStackFits8KB: serving a Claude Code turn as a stream, the
// connection's goroutine never needs more than an 8 KB stack. A stack that
// grows to 16 KB stays that size for the whole stream: 8 MB more per
// thousand open streams. The check runs in a child process, because
// debug.SetMaxStack turns an overflow into a fatal error. (Not under -race,
// whose instrumentation makes every frame larger.)
func TestStreamStackFits8KB(t *testing.T) {
	if os.Getenv("CCPROXY_STACK_CHILD") == "1" {
		streamUnderSmallStack(t)
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestStreamStackFits8KB$", "-test.count=1")
	cmd.Env = append(os.Environ(), "CCPROXY_STACK_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		i := strings.Index(string(out), "goroutine stack exceeds")
		if i < 0 {
			i = 0
		}
		t.Fatalf("child: %v\n%.8000s", err, out[i:])
	}
}

func streamUnderSmallStack(t *testing.T) {
	body := fixture(t, "cc-2.1.332-print-first-turn.json")
	for _, eng := range engines() {
		// A bare upstream: the limit holds for every goroutine of the
		// process, and the fake upstream's JSON parsing is deep.
		r := newRigFor(t, eng, oneWriteUpstream(t), nil, nil)
		run := func() {
			// A new connection each time: a connection's goroutine keeps the
			// stack an earlier request grew.
			resp := post(t, r.URL, "/v1/messages", body, map[string]string{"Connection": "close"})
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || !strings.Contains(string(b), "message_stop") {
				t.Fatalf("%s: status %d, body %.200q", eng, resp.StatusCode, b)
			}
		}
		run() // first-use work (type tables, pools) is not per stream
		old := debug.SetMaxStack(8 << 10)
		for range 5 {
			run()
		}
		debug.SetMaxStack(old)
	}
}
