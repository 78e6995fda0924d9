package main

import (
	"bytes"
	"errors"
	"strconv"
)

var crlf = []byte("\r\n")

// parseCommand reads one command from the front of in into args (whose slices point into in)
// and returns it with the bytes it took; n is 0 when in holds no complete command yet.
func parseCommand(in []byte, args [][]byte) (_ [][]byte, n int, err error) {
	if len(in) == 0 {
		return args, 0, nil
	}
	if in[0] != '*' { // an inline command: words up to the end of the line
		end := bytes.Index(in, crlf)
		if end < 0 {
			return args, 0, nil
		}
		for _, w := range bytes.Fields(in[:end]) {
			args = append(args, w)
		}
		return args, end + 2, nil
	}
	count, pos, ok, err := parseNumber(in, 1)
	if !ok || err != nil {
		return args, 0, err
	}
	for i := int64(0); i < count; i++ {
		if pos >= len(in) {
			return args, 0, nil
		}
		if in[pos] != '$' {
			return args, 0, errors.New("expected '$'")
		}
		size, next, ok, err := parseNumber(in, pos+1)
		if !ok || err != nil {
			return args, 0, err
		}
		if size < 0 || size > maxPending {
			return args, 0, errors.New("invalid bulk length")
		}
		end := next + int(size)
		if end+2 > len(in) {
			return args, 0, nil
		}
		args = append(args, in[next:end])
		pos = end + 2
	}
	return args, pos, nil
}

// parseNumber reads the decimal number in[at:] up to CRLF and returns it with the position
// after the CRLF; ok is false when the line is not complete yet.
func parseNumber(in []byte, at int) (v int64, next int, ok bool, err error) {
	end := bytes.Index(in[at:], crlf)
	if end < 0 {
		if len(in)-at > 20 {
			return 0, 0, false, errors.New("invalid length")
		}
		return 0, 0, false, nil
	}
	v, err = strconv.ParseInt(string(in[at:at+end]), 10, 64)
	if err != nil {
		return 0, 0, false, errors.New("invalid length")
	}
	return v, at + end + 2, true, nil
}

func appendSimple(out []byte, s string) []byte {
	out = append(out, '+')
	out = append(out, s...)
	return append(out, crlf...)
}

func appendError(out []byte, msg string) []byte {
	out = append(out, "-ERR "...)
	out = append(out, msg...)
	return append(out, crlf...)
}

func appendBulk(out, b []byte) []byte {
	out = append(out, '$')
	out = strconv.AppendInt(out, int64(len(b)), 10)
	out = append(out, crlf...)
	out = append(out, b...)
	return append(out, crlf...)
}

func appendInt(out []byte, n int64) []byte {
	out = append(out, ':')
	out = strconv.AppendInt(out, n, 10)
	return append(out, crlf...)
}
