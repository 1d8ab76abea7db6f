package sse

import "bytes"

// AppendEvent appends one event in wire format to dst and returns the
// extended slice: an "event: <name>" line when name is not empty, one
// "data: " line per line of data (data is split on "\n", "\r\n" and "\r", so
// Reader returns data with every line ending normalised to "\n"), and the
// blank line that dispatches the event. An empty data still yields one
// "data: " line, so the event is dispatched. name must not contain line
// breaks.
func AppendEvent(dst []byte, name, data []byte) []byte {
	if len(name) > 0 {
		dst = append(dst, "event: "...)
		dst = append(dst, name...)
		dst = append(dst, '\n')
	}
	for {
		i := bytes.IndexAny(data, "\r\n")
		if i < 0 {
			break
		}
		dst = append(dst, "data: "...)
		dst = append(dst, data[:i]...)
		dst = append(dst, '\n')
		if data[i] == '\r' && i+1 < len(data) && data[i+1] == '\n' {
			i++
		}
		data = data[i+1:]
	}
	dst = append(dst, "data: "...)
	dst = append(dst, data...)
	return append(dst, '\n', '\n')
}
