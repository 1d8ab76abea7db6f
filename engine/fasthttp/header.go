package fasthttp

import (
	"net/http"
	"strings"

	fh "github.com/valyala/fasthttp"

	"github.com/ccproxy/ccproxy/engine"
)

// fillRequest copies r into req and reports whether the caller set
// Accept-Encoding itself. Header names go out exactly as given. The body is
// referenced, not copied: req must be released before Do returns.
func fillRequest(req *fh.Request, r *engine.Request) (callerAcceptEncoding bool) {
	req.Header.DisableNormalizing()
	req.Header.SetNoDefaultContentType(true)
	req.Header.SetMethod(r.Method)
	req.SetRequestURI(r.URL)
	for k, vs := range r.Header {
		if skipRequestHeader(k) {
			continue
		}
		if strings.EqualFold(k, "Accept-Encoding") {
			callerAcceptEncoding = true
		}
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	if !callerAcceptEncoding {
		req.Header.Set("Accept-Encoding", engine.AcceptEncoding)
	}
	if r.Body != nil {
		req.SetBodyRaw(r.Body)
	}
	return callerAcceptEncoding
}

// skipRequestHeader reports headers the engine sets itself (Host,
// Content-Length) and hop-by-hop headers that must not be forwarded.
func skipRequestHeader(k string) bool {
	switch len(k) {
	case 2:
		return strings.EqualFold(k, "TE")
	case 4:
		return strings.EqualFold(k, "Host")
	case 7:
		return strings.EqualFold(k, "Upgrade") || strings.EqualFold(k, "Trailer")
	case 10:
		return strings.EqualFold(k, "Connection") || strings.EqualFold(k, "Keep-Alive")
	case 14:
		return strings.EqualFold(k, "Content-Length")
	case 16:
		return strings.EqualFold(k, "Proxy-Connection")
	case 17:
		return strings.EqualFold(k, "Transfer-Encoding")
	}
	return false
}

// isHopByHop reports response headers that describe the upstream hop only.
// With decoded set, the content-coding headers are dropped too.
func isHopByHop(k []byte, decoded bool) bool {
	switch len(k) {
	case 2:
		return strings.EqualFold(string(k), "TE")
	case 7:
		return strings.EqualFold(string(k), "Upgrade") || strings.EqualFold(string(k), "Trailer")
	case 10:
		return strings.EqualFold(string(k), "Connection") || strings.EqualFold(string(k), "Keep-Alive")
	case 14:
		return decoded && strings.EqualFold(string(k), "Content-Length")
	case 16:
		return strings.EqualFold(string(k), "Proxy-Connection") ||
			decoded && strings.EqualFold(string(k), "Content-Encoding")
	case 17:
		return strings.EqualFold(string(k), "Transfer-Encoding")
	}
	return false
}

// responseHeader copies the end-to-end headers of h into a new http.Header
// with few allocations: common names are interned, all values share one
// string, and the value slices share one backing array. fasthttp has
// already normalised the names to canonical form.
func responseHeader(h *fh.ResponseHeader, decoded bool) http.Header {
	n, size := 0, 0
	for k, v := range h.All() {
		if !isHopByHop(k, decoded) {
			n++
			size += len(v)
		}
	}
	out := make(http.Header, n)
	if n == 0 {
		return out
	}
	buf := make([]byte, 0, size)
	for k, v := range h.All() {
		if !isHopByHop(k, decoded) {
			buf = append(buf, v...)
		}
	}
	all := string(buf)
	vals := make([]string, n)
	i, off := 0, 0
	for k, v := range h.All() {
		if isHopByHop(k, decoded) {
			continue
		}
		vals[i] = all[off : off+len(v)]
		off += len(v)
		key := internKey(k)
		if prev, ok := out[key]; ok {
			out[key] = append(prev, vals[i])
		} else {
			out[key] = vals[i : i+1 : i+1]
		}
		i++
	}
	return out
}

// internKey returns a shared string for common response header names and
// a new one otherwise. The switch on string(k) does not allocate.
func internKey(k []byte) string {
	switch string(k) {
	case "Content-Type":
		return "Content-Type"
	case "Content-Length":
		return "Content-Length"
	case "Content-Encoding":
		return "Content-Encoding"
	case "Date":
		return "Date"
	case "Server":
		return "Server"
	case "Cache-Control":
		return "Cache-Control"
	case "Vary":
		return "Vary"
	case "Set-Cookie":
		return "Set-Cookie"
	case "Retry-After":
		return "Retry-After"
	case "X-Request-Id":
		return "X-Request-Id"
	case "Request-Id":
		return "Request-Id"
	case "Openai-Processing-Ms":
		return "Openai-Processing-Ms"
	case "Openai-Version":
		return "Openai-Version"
	case "Openai-Organization":
		return "Openai-Organization"
	case "X-Ratelimit-Limit-Requests":
		return "X-Ratelimit-Limit-Requests"
	case "X-Ratelimit-Limit-Tokens":
		return "X-Ratelimit-Limit-Tokens"
	case "X-Ratelimit-Remaining-Requests":
		return "X-Ratelimit-Remaining-Requests"
	case "X-Ratelimit-Remaining-Tokens":
		return "X-Ratelimit-Remaining-Tokens"
	case "X-Ratelimit-Reset-Requests":
		return "X-Ratelimit-Reset-Requests"
	case "X-Ratelimit-Reset-Tokens":
		return "X-Ratelimit-Reset-Tokens"
	case "Strict-Transport-Security":
		return "Strict-Transport-Security"
	case "Cf-Ray":
		return "Cf-Ray"
	case "Alt-Svc":
		return "Alt-Svc"
	case "X-Content-Type-Options":
		return "X-Content-Type-Options"
	}
	return string(k)
}
