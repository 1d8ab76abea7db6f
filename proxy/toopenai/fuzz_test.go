package toopenai

import (
	"encoding/json"
	"errors"
	"testing"
)

// FuzzTranslate checks that Translate never panics, that it returns either
// valid JSON or a *RequestError, and that its validator agrees with
// encoding/json.Valid.
func FuzzTranslate(f *testing.F) {
	// Seeds are small on purpose: with the 50-90 KB fixtures as seeds the
	// fuzzer spends its time minimising them and stalls. The fixtures are
	// covered by TestGolden.
	for _, s := range []string{
		`{"model":"m","max_tokens":1,"messages":[{"role":"user","content":"x"}]}`,
		`{"model":"claude-haiku","max_tokens":9,"stream":true,"system":[{"type":"text","text":"s"}],"messages":[{"role":"user","content":[{"type":"tool_result","tool_use_id":"a","content":[{"type":"image","source":{"type":"base64","media_type":"image/png","data":"AA"}}]}]},{"role":"assistant","content":[{"type":"tool_use","id":"a","name":"n","input":{"k":"v\"\\"}},{"type":"thinking","thinking":"t"}]}],"tools":[{"name":"n","input_schema":{}}],"tool_choice":{"type":"tool","name":"n"},"metadata":{"user_id":"\u00e9"}}`,
		`{"model":"gpt-4o","max_tokens":5,"messages":[{"role":"user","content":[{"type":"document","source":{"type":"content","content":[{"type":"text","text":"x"}]}}]}]}`,
		`[]`, `"x"`, `{"a":1e5}`, `{"\u006dodel":"m"}`,
	} {
		f.Add([]byte(s))
	}
	models, err := NewModels(ModelsConfig{Small: "gpt-4o-mini", ReasoningModels: []string{"m"}})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		_, verr := validate(body, nil, new([maxDepth]int32))
		if (verr == nil) != json.Valid(body) {
			var re *RequestError
			deep := errors.As(verr, &re) && re.Message != "" && json.Valid(body)
			if !deep || len(body) < maxDepth {
				t.Fatalf("validate = %v but json.Valid = %v for %q", verr, json.Valid(body), body)
			}
		}
		for _, replay := range []bool{false, true} {
			out, _, err := Translate(nil, body, &Options{Models: models, ReasoningReplay: replay})
			if err != nil {
				var re *RequestError
				if !errors.As(err, &re) {
					t.Fatalf("error %v is not a *RequestError", err)
				}
				continue
			}
			if !json.Valid(out) {
				t.Fatalf("invalid output for %q:\n%s", body, out)
			}
		}
	})
}
