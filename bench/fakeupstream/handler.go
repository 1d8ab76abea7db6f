package fakeupstream

import (
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/rs/zerolog"
	"github.com/tidwall/gjson"

	"github.com/ccproxy/ccproxy/internal/jsonw"
)

// maxBody bounds request bodies.
const maxBody = 32 << 20

// fixedHeaders are the header values the server sets, shared read-only by
// all responses so that setting them allocates nothing.
type fixedHeaders struct {
	json, sse, noCache, vary, noSniff []string
	coding                            map[string][]string
	done, malformed                   []byte // SSE events
}

func (h *fixedHeaders) init() {
	h.json = []string{"application/json"}
	h.sse = []string{"text/event-stream; charset=utf-8"}
	h.noCache = []string{"no-cache"}
	h.vary = []string{"Accept-Encoding"}
	h.noSniff = []string{"nosniff"}
	h.done = []byte("data: [DONE]\n\n")
	h.malformed = []byte("data: {not json\n\n")
	h.coding = map[string][]string{
		"gzip": {"gzip"}, "deflate": {"deflate"}, "br": {"br"}, "zstd": {"zstd"},
	}
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if !s.enter() {
		s.writeError(w, http.StatusServiceUnavailable, "the fake upstream is shutting down", "server_error", "", "")
		return
	}
	defer s.handlers.Done()
	if s.control {
		if strings.HasPrefix(r.URL.Path, ControlPrefix) {
			s.serveControl(w, r)
			return
		}
		markConn(r, connClient)
	}
	s.stats.request(r.Proto)

	bufp := s.getBuf()
	defer s.bodies.Put(bufp)
	body, err := readBody(r, *bufp)
	*bufp = body[:0]
	s.rec.add(r.Method, r.URL.Path, r.Proto, r.Header, body)
	if err != nil {
		s.writeError(w, http.StatusBadRequest, "could not read the request body: "+err.Error(), "invalid_request_error", "", "")
		return
	}

	switch r.URL.Path {
	case "/v1/chat/completions":
		if r.Method != http.MethodPost {
			s.methodNotAllowed(w, r)
			return
		}
	case "/v1/models":
		if r.Method != http.MethodGet {
			s.methodNotAllowed(w, r)
			return
		}
	default:
		s.writeError(w, http.StatusNotFound, "Invalid URL ("+r.Method+" "+r.URL.Path+")", "invalid_request_error", "", "")
		return
	}
	if !authorized(r.Header.Get("Authorization")) {
		s.writeError(w, http.StatusUnauthorized, "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).", "invalid_request_error", "", "")
		return
	}
	if r.URL.Path == "/v1/models" {
		s.writeModels(w)
		return
	}
	s.chat(w, r, body)
}

// enter registers a handler unless the server is closing.
func (s *Server) enter() bool {
	s.closeMu.Lock()
	defer s.closeMu.Unlock()
	if s.closing {
		return false
	}
	s.handlers.Add(1)
	return true
}

func (s *Server) getBuf() *[]byte {
	if p, ok := s.bodies.Get().(*[]byte); ok {
		return p
	}
	b := make([]byte, 0, 64<<10)
	return &b
}

// readBody reads r.Body into buf (grown as needed).
func readBody(r *http.Request, buf []byte) ([]byte, error) {
	if r.ContentLength > maxBody {
		return buf[:0], errors.New("body too large")
	}
	if r.ContentLength > 0 && int64(cap(buf)) < r.ContentLength {
		buf = make([]byte, 0, r.ContentLength)
	}
	buf = buf[:0]
	for {
		if len(buf) == cap(buf) {
			if len(buf) >= maxBody {
				return buf, errors.New("body too large")
			}
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

func authorized(h string) bool {
	if len(h) < 7 || !strings.EqualFold(h[:7], "bearer ") {
		return false
	}
	return strings.TrimSpace(h[7:]) != ""
}

func (s *Server) methodNotAllowed(w http.ResponseWriter, r *http.Request) {
	s.writeError(w, http.StatusMethodNotAllowed, "Invalid method for URL ("+r.Method+" "+r.URL.Path+")", "invalid_request_error", "", "")
}

// writeError writes an OpenAI error object.
func (s *Server) writeError(w http.ResponseWriter, status int, msg, typ, param, code string) {
	b := appendError(make([]byte, 0, 160+len(msg)), msg, typ, param, code)
	h := w.Header()
	h["Content-Type"] = s.headers.json
	h["Content-Length"] = []string{strconv.Itoa(len(b))}
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func appendError(b []byte, msg, typ, param, code string) []byte {
	b = append(b, `{"error":{"message":`...)
	b = jsonw.AppendString(b, msg)
	b = append(b, `,"type":`...)
	b = jsonw.AppendString(b, typ)
	b = append(b, `,"param":`...)
	if param == "" {
		b = append(b, "null"...)
	} else {
		b = jsonw.AppendString(b, param)
	}
	b = append(b, `,"code":`...)
	if code == "" {
		b = append(b, "null"...)
	} else {
		b = jsonw.AppendString(b, code)
	}
	return append(b, "}}"...)
}

// writeModels answers GET /v1/models with a fixed list.
func (s *Server) writeModels(w http.ResponseWriter) {
	models := [...]string{"gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-4.1-mini", "o3-mini", "ccproxy-demo"}
	b := []byte(`{"object":"list","data":[`)
	for i, m := range models {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"id":`...)
		b = jsonw.AppendString(b, m)
		b = append(b, `,"object":"model","created":`...)
		b = strconv.AppendInt(b, created, 10)
		b = append(b, `,"owned_by":"ccproxy-demo"}`...)
	}
	b = append(b, "]}"...)
	h := w.Header()
	h["Content-Type"] = s.headers.json
	h["Content-Length"] = []string{strconv.Itoa(len(b))}
	_, _ = w.Write(b)
}

// chat serves POST /v1/chat/completions after routing and auth.
func (s *Server) chat(w http.ResponseWriter, r *http.Request, body []byte) {
	if !gjson.ValidBytes(body) {
		s.writeError(w, http.StatusBadRequest, "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)", "invalid_request_error", "", "")
		return
	}
	var req request
	parseRequest(body, &req)
	if !req.hasModel {
		s.writeError(w, http.StatusBadRequest, "you must provide a model parameter", "invalid_request_error", "", "")
		return
	}
	if !req.hasMessages {
		s.writeError(w, http.StatusBadRequest, "Missing required parameter: 'messages'.", "invalid_request_error", "messages", "missing_required_parameter")
		return
	}

	if req.badTool > 0 {
		// OpenAI's answer to a function name it does not accept.
		param := "tools[" + strconv.Itoa(req.badTool-1) + "].function.name"
		msg, code := "Invalid '"+param+"': string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$'.", "invalid_value"
		if req.badToolLen > 64 {
			msg, code = "Invalid '"+param+"': string too long. Expected a string with maximum length 64, but got a string with length "+strconv.Itoa(req.badToolLen)+" instead.", "string_above_max_length"
		}
		s.writeError(w, http.StatusBadRequest, msg, "invalid_request_error", param, code)
		return
	}

	opts := s.opts.Load()
	fault, hasFault := s.faults.pop()
	ctx := r.Context()
	if hasFault {
		switch fault.Kind {
		case Status:
			s.writeStatusFault(w, fault)
			return
		case ResetBeforeHeaders:
			panic(http.ErrAbortHandler)
		case SlowHeaders:
			if !s.sleep(ctx, fault.Delay) {
				s.canceled(r)
				return
			}
		}
	}
	if !s.sleep(ctx, opts.HeaderDelay) {
		s.canceled(r)
		return
	}

	key := choose(&req, opts)
	rep := s.cache.get(key)
	if l := s.logger(); l.GetLevel() <= zerolog.DebugLevel {
		l.Debug().Str("proto", r.Proto).Str("model", req.model).Bool("stream", req.stream).
			Str("reply", key.kind.String()).Str("fault", fault.Kind.String()).Msg("fakeupstream: chat completion")
	}
	c := response{s: s, w: w, r: r, coding: chooseCoding(opts.Compression, r.Header.Get("Accept-Encoding"))}
	if f, ok := w.(interface{ FlushError() error }); ok {
		c.flushErr = f
	} else if f, ok := w.(http.Flusher); ok {
		c.flush = f
	}
	if !hasFault {
		fault = Fault{}
	}
	fault.AfterChunks = max(fault.AfterChunks, 0)
	promptTokens := max(len(body)/4, 1)
	if req.stream {
		c.stream(rep, opts, promptTokens, fault)
	} else {
		c.unary(rep, promptTokens, fault)
	}
}

func (s *Server) writeStatusFault(w http.ResponseWriter, f Fault) {
	status := f.Status
	if status == 0 {
		status = http.StatusInternalServerError
	}
	if f.RetryAfter != "" {
		w.Header()["Retry-After"] = []string{f.RetryAfter}
	}
	if f.Body != "" {
		h := w.Header()
		h["Content-Type"] = s.headers.json
		h["Content-Length"] = []string{strconv.Itoa(len(f.Body))}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, f.Body)
		return
	}
	msg := "The fake upstream injected status " + strconv.Itoa(status) + "."
	switch {
	case status == http.StatusTooManyRequests:
		s.writeError(w, status, "Rate limit reached (injected by the fake upstream).", "requests", "", "rate_limit_exceeded")
	case status >= 500:
		s.writeError(w, status, msg, "server_error", "", "")
	default:
		s.writeError(w, status, msg, "invalid_request_error", "", "")
	}
}

// canceled counts a handler that saw its client go away.
func (s *Server) canceled(r *http.Request) {
	s.stats.canceled.Add(1)
	s.logger().Debug().Str("path", r.URL.Path).Str("proto", r.Proto).Msg("fakeupstream: client went away")
}
