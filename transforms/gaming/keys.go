package gaming

import (
	"strconv"
	"strings"
)

// joinKey builds an unambiguous composite key from parts that may contain
// any character: each part is prefixed with its length.
func joinKey(parts ...string) string {
	var b strings.Builder
	for _, p := range parts {
		b.WriteString(strconv.Itoa(len(p)))
		b.WriteByte(':')
		b.WriteString(p)
	}
	return b.String()
}

// splitKey reverses joinKey.
func splitKey(key string) []string {
	var parts []string
	for len(key) > 0 {
		i := strings.IndexByte(key, ':')
		n, err := strconv.Atoi(key[:i])
		if i < 0 || err != nil || i+1+n > len(key) {
			panic("gaming: malformed composite key " + strconv.Quote(key))
		}
		parts = append(parts, key[i+1:i+1+n])
		key = key[i+1+n:]
	}
	return parts
}
