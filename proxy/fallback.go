package proxy

import (
	"bytes"
	"context"
	"errors"
	"net/http"

	"github.com/ccproxy/ccproxy/engine"
	"github.com/ccproxy/ccproxy/internal/jsonw"
)

// causeFallback is the retry cause of a translated request sent again to
// a fallback model.
const causeFallback = "fallback"

// checkFallbacks validates Config.Fallbacks: no empty model name.
func checkFallbacks(fb map[string][]string) error {
	for m, alts := range fb {
		if m == "" {
			return errors.New("proxy: a fallback list for an empty model name")
		}
		if len(alts) == 0 {
			return errors.New("proxy: no fallback models for " + m)
		}
		for _, a := range alts {
			if a == "" {
				return errors.New("proxy: an empty fallback model for " + m)
			}
		}
	}
	return nil
}

// fallbackWorthy reports whether a failed send (its error, before any
// byte reached the client) may succeed with another model: a 429 (every
// key tried, or a Retry-After too long to wait), a 5xx/529 after the
// retries, a timeout, or the circuit breaker open. Refusals of the
// request itself (4xx), unreachable upstreams, a full connection pool
// and a client gone are not.
func fallbackWorthy(err error) bool {
	var ae *apiError
	if !errors.As(err, &ae) {
		return false // the client went away (ctx.Err())
	}
	if ae.Upstream {
		return ae.RawStatus == http.StatusTooManyRequests || ae.RawStatus >= 500
	}
	// transportError: 504 a timeout, 503 the circuit breaker open (529
	// is ccproxy's own pool, 502 an unreachable upstream).
	return ae.Status == http.StatusGatewayTimeout || ae.Status == http.StatusServiceUnavailable
}

// setModel rewrites the model of a request toopenai translated, which
// begins {"model":<old as a JSON string>: the same body with model's
// name there instead. It reports false, with body unchanged, when the
// body does not begin so. The body is patched in place when its capacity
// allows (engines keep nothing of a request after Do returns), else
// copied.
func setModel(body []byte, old, model string) ([]byte, bool) {
	const prefix = `{"model":`
	var buf [128]byte
	was := jsonw.AppendString(append(buf[:0], prefix...), old)
	if !bytes.HasPrefix(body, was) {
		return body, false
	}
	now := jsonw.AppendString(append(make([]byte, 0, len(prefix)+len(model)+2), prefix...), model)
	n := len(body) - len(was) + len(now)
	if n > cap(body) {
		out := make([]byte, 0, n)
		out = append(out, now...)
		return append(out, body[len(was):]...), true
	}
	oldLen := len(body)
	body = body[:max(n, oldLen)]
	copy(body[len(now):], body[len(was):oldLen])
	copy(body, now)
	return body[:n], true
}

// fallback takes the error send (and retryOverflow) returned for a
// translated request whose upstream model is rs.resolved and, when it is
// worth it (fallbackWorthy), sends the same body again to each of the
// model's fallbacks in turn, with only its "model" changed, until one
// answers. Nothing has reached the client yet. It returns the first
// success, else the last error; rs.resolved becomes the model that
// answered. The client is still answered with the model it asked for.
func (h *Handler) fallback(ctx context.Context, req *engine.Request, rs *reqState, maxTokens int, err error) (*engine.Response, error) {
	model := rs.resolved
	for _, alt := range h.cfg.Fallbacks[rs.resolved] {
		if !fallbackWorthy(err) {
			return nil, err
		}
		body, ok := setModel(req.Body, model, alt)
		if !ok {
			return nil, err
		}
		req.Body = body
		var ae *apiError
		errors.As(err, &ae)
		h.log.Warn().Str("request_id", rs.id).Str("model", model).Str("fallback_model", alt).
			Int("status", ae.Status).Str("error_type", ae.Type).Msg("upstream model failed: trying its fallback")
		rs.at.Retries++
		rs.at.LastCause = causeFallback
		rs.at.tried = 0 // rate limits are per model: the keys get another chance
		h.noteRetry(causeFallback)
		var resp *engine.Response
		resp, err = h.send(ctx, req, &rs.at)
		if err != nil {
			resp, err = h.retryOverflow(ctx, req, rs, maxTokens, err)
		}
		if err == nil {
			rs.resolved = alt
			return resp, nil
		}
		model = alt
	}
	return nil, err
}
