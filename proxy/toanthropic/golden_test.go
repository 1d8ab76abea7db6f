package toanthropic

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ccproxy/ccproxy/internal/sse"
)

var update = flag.Bool("update", false, "rewrite the golden *.anthropic.sse files")

// goldenConfig is the Config for a golden case.
func goldenConfig(name string) Config {
	return Config{
		Model:         "claude-sonnet-4-5",
		MessageID:     "msg_golden",
		InputTokens:   900,
		Thinking:      !strings.Contains(name, "thinking-off"),
		StopSequences: []string{"###"},
	}
}

// translate runs an upstream SSE transcript through a Stream the way the
// proxy edge does.
func translate(t testing.TB, s *Stream, in []byte) []byte {
	t.Helper()
	rd := sse.NewReader(bytes.NewReader(in), 1<<20)
	out := s.Start(nil)
	for rd.Next() {
		var err error
		out, err = s.Event(out, rd.Data())
		if err != nil {
			if !s.Done() {
				t.Fatalf("Event error %v but stream not done", err)
			}
			break
		}
	}
	return s.Finish(out, rd.Err())
}

var synthID = regexp.MustCompile(`toolu_[0-9A-Za-z]{24}`)

func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*.openai.sse")
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden inputs: %v", err)
	}
	s := NewStream(Config{}) // one Stream reused via Reset, as a pool would
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".openai.sse")
		t.Run(name, func(t *testing.T) {
			in, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			s.Reset(goldenConfig(name))
			out := translate(t, s, in)
			if !s.Done() {
				t.Fatal("not Done after Finish")
			}
			clean := !strings.Contains(name, "truncated") && !strings.Contains(name, "error") && !strings.Contains(name, "malformed")
			if err := validate(out, clean); err != nil {
				t.Fatalf("grammar: %v\n%s", err, out)
			}
			// Finish is idempotent.
			if again := s.Finish(nil, errors.New("late")); len(again) != 0 {
				t.Fatalf("second Finish appended %q", again)
			}
			out = synthID.ReplaceAll(out, []byte("toolu_SYNTHETIC"))
			golden := strings.TrimSuffix(f, ".openai.sse") + ".anthropic.sse"
			if *update {
				if err := os.WriteFile(golden, out, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update)", err)
			}
			if !bytes.Equal(out, want) {
				t.Fatalf("output differs from %s:\n--- got\n%s\n--- want\n%s", golden, out, want)
			}
		})
	}
}
