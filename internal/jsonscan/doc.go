// Package jsonscan holds the byte-level JSON scanning shared by the request
// translator (proxy/toopenai) and the stream translator (proxy/toanthropic):
// finding the next byte of a JSON string's contents that needs a look.
package jsonscan
