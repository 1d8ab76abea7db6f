//go:build !race

package toanthropic

import "testing"

// TestThoughtSignatureAllocs: carrying a signature (escaped, so decoded
// first) costs no allocation once a pooled Stream's buffers have grown:
// a whole Gemini tool step, Reset to Finish, allocates nothing.
func TestThoughtSignatureAllocs(t *testing.T) {
	chunks := [][]byte{
		[]byte(`{"choices":[{"index":0,"delta":{"role":"assistant","tool_calls":[` +
			geminiCall("0", "function-call-1", "Read", `"{\"path\":\"a\"}"`, geminiSigRaw) + "," +
			geminiCall("1", "function-call-2", "Read", `"{\"path\":\"b\"}"`, "") + `]}}]}`),
		[]byte(finishToolCalls),
	}
	s := NewStream(Config{Model: "m", MessageID: "msg_x"})
	dst := make([]byte, 0, 8192)
	run := func() {
		s.Reset(Config{Model: "m", MessageID: "msg_x"})
		dst = s.Start(dst[:0])
		for _, c := range chunks {
			var err error
			if dst, err = s.Event(dst, c); err != nil {
				t.Fatal(err)
			}
		}
		dst = s.Finish(dst, nil)
	}
	run()
	if ids := streamToolIDs(t, NewStream(Config{Model: "m"}), string(chunks[0]), string(chunks[1])); len(ids) != 2 || ids[0] == "function-call-1" {
		t.Fatalf("ids %q: the signature is not carried", ids)
	}
	if allocs := testing.AllocsPerRun(100, run); allocs != 0 {
		t.Fatalf("%v allocs per signed tool step; want 0", allocs)
	}
}
