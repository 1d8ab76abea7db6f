package toanthropic

import "crypto/rand"

const idAlphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// appendID appends prefix and 24 random base62 characters (crypto/rand; the
// modulo bias is irrelevant for an identifier).
func appendID(dst []byte, prefix string) []byte {
	var b [24]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand documents it)
	dst = append(dst, prefix...)
	for _, c := range b {
		dst = append(dst, idAlphabet[int(c)%len(idAlphabet)])
	}
	return dst
}

// newMessageID returns a fresh "msg_..." id.
func newMessageID() string { return string(appendID(make([]byte, 0, 28), "msg_")) }
