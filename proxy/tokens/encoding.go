package tokens

import (
	"strings"
	"sync"

	"github.com/tiktoken-go/tokenizer"
)

// Encoding names a BPE encoding the Counter can use.
type Encoding string

// The encodings a Counter chooses between; see EncodingFor.
const (
	O200kBase  Encoding = "o200k_base"
	Cl100kBase Encoding = "cl100k_base"
)

// EncodingFor returns the tiktoken encoding used for upstreamModel:
// cl100k_base for the gpt-4 (not gpt-4o / gpt-4.1 / gpt-4.5) and gpt-3.5 families,
// o200k_base for everything else, including current OpenAI models (gpt-4o,
// gpt-4.1, gpt-5, o1, o3, o4-mini, ...) and non-OpenAI or unknown models. A
// provider prefix ("openai/gpt-4") and a fine-tune prefix ("ft:gpt-4:...") are
// ignored; matching is case-insensitive.
func EncodingFor(upstreamModel string) Encoding {
	m := strings.ToLower(strings.TrimSpace(upstreamModel))
	if i := strings.LastIndexByte(m, '/'); i >= 0 {
		m = m[i+1:]
	}
	m = strings.TrimPrefix(m, "ft:")
	switch {
	case strings.HasPrefix(m, "gpt-3.5"), strings.HasPrefix(m, "gpt-35"):
		return Cl100kBase
	case strings.HasPrefix(m, "gpt-4o"), strings.HasPrefix(m, "gpt-4.1"), strings.HasPrefix(m, "gpt-4.5"):
		return O200kBase
	case m == "gpt-4", strings.HasPrefix(m, "gpt-4-"), strings.HasPrefix(m, "gpt-4:"):
		return Cl100kBase
	default:
		return O200kBase
	}
}

// lazyCodec builds one tokenizer codec on first use. Building costs the one-time
// initialisation of the embedded vocabulary map (100-300 ms, shared by the
// whole process) and a regexp compile, so it happens once per Counter and encoding, never per request.
// The codecs embed their BPE ranks in the binary: no file or network access.
type lazyCodec struct {
	once  sync.Once
	enc   tokenizer.Encoding
	codec tokenizer.Codec
	err   error
}

func (l *lazyCodec) get() (tokenizer.Codec, error) {
	l.once.Do(func() {
		l.codec, l.err = tokenizer.Get(l.enc)
	})
	return l.codec, l.err
}
