package proxy

import (
	"context"
	"errors"
	"net/http"
	"slices"

	"github.com/ccproxy/ccproxy/engine"
	"github.com/ccproxy/ccproxy/proxy/toopenai"
)

// causeFallback is the retry cause of a translated request sent again to
// a fallback model.
const causeFallback = "fallback"

// checkFallbacks validates Config.Fallbacks: no empty model name, no
// model falling back to itself, no fallback listed twice for one model
// (each would be tried again for nothing).
func checkFallbacks(fb map[string][]string) error {
	for m, alts := range fb {
		if m == "" {
			return errors.New("proxy: a fallback list for an empty model name")
		}
		if len(alts) == 0 {
			return errors.New("proxy: no fallback models for " + m)
		}
		for i, a := range alts {
			switch {
			case a == "":
				return errors.New("proxy: an empty fallback model for " + m)
			case a == m:
				return errors.New("proxy: " + m + " falls back to itself")
			case slices.Contains(alts[:i], a):
				return errors.New("proxy: " + m + " lists fallback " + a + " twice")
			}
		}
	}
	return nil
}

// fallbackWorthy reports whether a failed send (its error, before any
// byte reached the client) may succeed with another model: a 429 (every
// key tried, or a Retry-After too long to wait), a 5xx/529 after the
// retries, a timeout, or the model's own circuit breaker open (opened by
// its 5xx/529 answers: another model has its own). Refusals of the
// request itself (4xx), unreachable upstreams, a full connection pool,
// the upstream-wide circuit breaker open (every model meets it: a
// fallback's send would too, without reaching the upstream) and a client
// gone are not.
func fallbackWorthy(err error) bool {
	if co, ok := errors.AsType[*circuitOpenError](err); ok {
		return co.Model != ""
	}
	var ae *apiError
	if !errors.As(err, &ae) {
		return false // the client went away (ctx.Err())
	}
	if ae.Upstream {
		return ae.RawStatus == http.StatusTooManyRequests || ae.RawStatus >= 500
	}
	// transportError: 504 a timeout (529 ccproxy's own pool, 502 an
	// unreachable upstream).
	return ae.Status == http.StatusGatewayTimeout
}

// fallback takes the error send (and retryRefused) returned for the
// request translated from body for the upstream model rs.resolved and,
// when it is worth it (fallbackWorthy), translates body for each of that
// model's fallbacks in turn (into out, the translation's buffer: the
// failed request is no longer needed) and sends it, until one answers.
// Nothing has reached the client yet. It returns the first success, else
// the last error from the upstream (a fallback refused by its own open
// breaker is skipped and leaves the error as it was: the client hears
// what really failed); rs.resolved becomes the model that answered. The
// client is still answered with the model it asked for.
func (h *Handler) fallback(ctx context.Context, req *engine.Request, rs *reqState, body []byte, out *[]byte, err error) (*engine.Response, error) {
	model := rs.resolved
	for _, alt := range h.cfg.Fallbacks[rs.resolved] {
		if !fallbackWorthy(err) {
			return nil, err
		}
		if h.breaker.refuses() {
			return nil, err // the first model's timeouts may just have opened it
		}
		if h.models.forModel(alt).refuses() {
			continue // as failing as the first: not translated, logged or counted
		}
		up, info, terr := toopenai.TranslateFor((*out)[:0], body, &h.topts, alt)
		if terr != nil {
			return nil, err // it translated for the first model: cannot happen
		}
		req.Body = up
		h.traceBody(rs, "upstream request body", up)
		var ae *apiError
		errors.As(err, &ae)
		h.log.Warn().Str("request_id", rs.id).Str("model", model).Str("fallback_model", alt).
			Int("status", ae.Status).Str("error_type", ae.Type).Msg("upstream model failed: trying its fallback")
		rs.at.Retries++
		rs.at.LastCause = causeFallback
		rs.at.tried = 0 // rate limits are per model: the keys get another chance
		rs.at.Model = alt
		h.noteRetry(causeFallback)
		resp, ferr := h.send(ctx, req, &rs.at)
		if co, refused := errors.AsType[*circuitOpenError](ferr); refused {
			// Nothing was sent (a breaker opened since the check above):
			// the upstream-wide one stops here, the fallback's own moves
			// on to the next fallback.
			if co.Model == "" {
				return nil, err
			}
			continue
		}
		if ferr != nil {
			resp, ferr = h.retryRefused(ctx, req, rs, alt, info.MaxTokens, ferr)
		}
		if ferr == nil {
			rs.resolved = alt
			return resp, nil
		}
		err = ferr
		model = alt
	}
	return nil, err
}
