package schemas

import (
	"errors"
	"strings"
	"testing"
)

// typicalEvent is the shape the gateway and the lake carry most of the time.
const typicalEvent = `{"event_id":"0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9","user":"user12_AmberCockatoo","team":"AmberCockatoo","score":137,"event_time":"2026-11-26T10:15:42.123Z","platform":"android","schema_version":1}`

// fastBase is a valid event without schema_version and platform; the cases
// below add or replace fields around it.
const fastBase = `"event_id":"e1","user":"alice","team":"red","score":12,"event_time":"2026-11-26T10:00:00Z"`

func TestDecodeJSONFastPathTaken(t *testing.T) {
	cases := map[string]string{
		"typical":                typicalEvent,
		"minimal":                `{` + fastBase + `}`,
		"whitespace everywhere":  " \t\r\n{ \"event_id\" :\t\"e1\" ,\n\"user\"\r:\"alice\", \"team\" : \"red\" , \"score\" : 12 , \"event_time\" : \"2026-11-26T10:00:00Z\" }\n\t ",
		"fields reordered":       `{"schema_version":1,"event_time":"2026-11-26T10:00:00Z","score":12,"team":"red","user":"alice","event_id":"e1","platform":"ios"}`,
		"empty platform":         `{` + fastBase + `,"platform":""}`,
		"score zero":             `{"event_id":"e1","user":"alice","team":"red","score":0,"event_time":"2026-11-26T10:00:00Z"}`,
		"score minus zero":       `{"event_id":"e1","user":"alice","team":"red","score":-0,"event_time":"2026-11-26T10:00:00Z"}`,
		"score max":              `{"event_id":"e1","user":"alice","team":"red","score":1000000,"event_time":"2026-11-26T10:00:00Z"}`,
		"time with offset":       `{"event_id":"e1","user":"alice","team":"red","score":12,"event_time":"2026-11-26T12:30:00.5+02:00"}`,
		"time nanoseconds":       `{"event_id":"e1","user":"alice","team":"red","score":12,"event_time":"2026-11-26T10:00:00.123456789Z"}`,
		"non-ASCII strings":      `{"event_id":"é1","user":"Zoë 🦜","team":"红队","score":12,"event_time":"2026-11-26T10:00:00Z","platform":"ios"}`,
		"DEL and U+2028 in user": "{\"event_id\":\"e1\",\"user\":\"a\x7fb\u2028c\",\"team\":\"red\",\"score\":12,\"event_time\":\"2026-11-26T10:00:00Z\"}",
		"unknown scalars":        `{` + fastBase + `,"s":"x","n":-12.5e+3,"z":0,"f":0.25,"e":1E9,"t":true,"F":false,"nil":null,"empty":""}`,
		"unknown non-ASCII key":  `{` + fastBase + `,"über":1,"scoreboard":2,"users":"x"}`,
		"duplicate unknown keys": `{` + fastBase + `,"x":1,"x":"two"}`,
		"128-byte user":          `{"event_id":"e1","user":"` + strings.Repeat("u", MaxStringBytes) + `","team":"red","score":12,"event_time":"2026-11-26T10:00:00Z"}`,
		"time one hour ahead":    `{"event_id":"e1","user":"alice","team":"red","score":12,"event_time":"2026-11-26T13:00:00Z"}`,
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			got, ok := decodeJSONFast([]byte(in), testNow)
			if !ok {
				t.Fatalf("fast path bailed out on %s", in)
			}
			want, err := decodeJSONStd([]byte(in), testNow)
			if err != nil {
				t.Fatalf("std decoder rejects %s: %v", in, err)
			}
			if got != want {
				t.Fatalf("fast %+v\n std %+v", got, want)
			}
			assertSameAsStd(t, []byte(in))
		})
	}
}

func TestDecodeJSONFastPathBailsOut(t *testing.T) {
	cases := map[string]string{
		// Strings encoding/json would rewrite.
		"escape in value":          `{"event_id":"e1","user":"al\u0069ce","team":"red","score":12,"event_time":"2026-11-26T10:00:00Z"}`,
		"escaped quote":            `{"event_id":"e1","user":"a\"b","team":"red","score":12,"event_time":"2026-11-26T10:00:00Z"}`,
		"escape in key":            `{"event_id":"e1","us\u0065r":"alice","team":"red","score":12,"event_time":"2026-11-26T10:00:00Z"}`,
		"escape in unknown value":  `{` + fastBase + `,"x":"a\nb"}`,
		"escape in unknown key":    `{` + fastBase + `,"\u0078":1}`,
		"raw tab in value":         "{\"event_id\":\"e1\",\"user\":\"a\tb\",\"team\":\"red\",\"score\":12,\"event_time\":\"2026-11-26T10:00:00Z\"}",
		"raw NUL in unknown value": "{" + fastBase + ",\"x\":\"\x00\"}",
		"invalid UTF-8 in value":   "{\"event_id\":\"e\xff\",\"user\":\"alice\",\"team\":\"red\",\"score\":12,\"event_time\":\"2026-11-26T10:00:00Z\"}",
		"surrogate in UTF-8":       "{\"event_id\":\"e\xed\xa0\x80\",\"user\":\"alice\",\"team\":\"red\",\"score\":12,\"event_time\":\"2026-11-26T10:00:00Z\"}",
		"invalid UTF-8 in key":     "{" + fastBase + ",\"\xfe\":1}",
		"invalid UTF-8 unknown":    "{" + fastBase + ",\"x\":\"\xc3\"}",
		"unterminated string":      `{"event_id":"e1`,
		// Keys encoding/json matches case-insensitively.
		"upper-case key":     `{"event_id":"e1","User":"alice","team":"red","score":12,"event_time":"2026-11-26T10:00:00Z"}`,
		"folded extra key":   `{` + fastBase + `,"SCORE":13}`,
		"long s folds to s":  `{` + fastBase + `,"ſcore":13}`,
		"folded platform":    `{` + fastBase + `,"Platform":"ios"}`,
		"folded version key": `{` + fastBase + `,"Schema_Version":2}`,
		// Duplicates: encoding/json keeps the last.
		"duplicate user":  `{` + fastBase + `,"user":"bob"}`,
		"duplicate score": `{` + fastBase + `,"score":12}`,
		// null known fields.
		"null event_id":       `{"event_id":null,"user":"alice","team":"red","score":12,"event_time":"2026-11-26T10:00:00Z"}`,
		"null score":          `{"event_id":"e1","user":"alice","team":"red","score":null,"event_time":"2026-11-26T10:00:00Z"}`,
		"null event_time":     `{"event_id":"e1","user":"alice","team":"red","score":12,"event_time":null}`,
		"null platform":       `{` + fastBase + `,"platform":null}`,
		"null schema_version": `{` + fastBase + `,"schema_version":null}`,
		// Nested values.
		"nested unknown object": `{` + fastBase + `,"meta":{"a":1}}`,
		"nested unknown array":  `{` + fastBase + `,"tags":[]}`,
		"object as user":        `{"event_id":"e1","user":{"n":"alice"},"team":"red","score":12,"event_time":"2026-11-26T10:00:00Z"}`,
		"array as score":        `{"event_id":"e1","user":"alice","team":"red","score":[12],"event_time":"2026-11-26T10:00:00Z"}`,
		"top-level array":       `[` + `{` + fastBase + `}]`,
		// Numbers outside the grammar or not plain integers.
		"score leading zero":     `{"event_id":"e1","user":"alice","team":"red","score":012,"event_time":"2026-11-26T10:00:00Z"}`,
		"score plus":             `{"event_id":"e1","user":"alice","team":"red","score":+12,"event_time":"2026-11-26T10:00:00Z"}`,
		"score bare minus":       `{"event_id":"e1","user":"alice","team":"red","score":-,"event_time":"2026-11-26T10:00:00Z"}`,
		"score fraction":         `{"event_id":"e1","user":"alice","team":"red","score":12.0,"event_time":"2026-11-26T10:00:00Z"}`,
		"score trailing dot":     `{"event_id":"e1","user":"alice","team":"red","score":12.,"event_time":"2026-11-26T10:00:00Z"}`,
		"score exponent":         `{"event_id":"e1","user":"alice","team":"red","score":1e2,"event_time":"2026-11-26T10:00:00Z"}`,
		"score overflows int64":  `{"event_id":"e1","user":"alice","team":"red","score":99999999999999999999,"event_time":"2026-11-26T10:00:00Z"}`,
		"score as string":        `{"event_id":"e1","user":"alice","team":"red","score":"12","event_time":"2026-11-26T10:00:00Z"}`,
		"score true":             `{"event_id":"e1","user":"alice","team":"red","score":true,"event_time":"2026-11-26T10:00:00Z"}`,
		"version exponent":       `{` + fastBase + `,"schema_version":1e0}`,
		"version as string":      `{` + fastBase + `,"schema_version":"1"}`,
		"unknown leading zero":   `{` + fastBase + `,"x":01}`,
		"unknown leading dot":    `{` + fastBase + `,"x":.5}`,
		"unknown trailing dot":   `{` + fastBase + `,"x":1.}`,
		"unknown bare exponent":  `{` + fastBase + `,"x":1e}`,
		"unknown exponent sign":  `{` + fastBase + `,"x":1e+}`,
		"unknown plus":           `{` + fastBase + `,"x":+1}`,
		"unknown bare minus":     `{` + fastBase + `,"x":-}`,
		"unknown hex":            `{` + fastBase + `,"x":0x1}`,
		"unknown truncated true": `{` + fastBase + `,"x":tru}`,
		"unknown truex":          `{` + fastBase + `,"x":truex}`,
		"unknown NaN":            `{` + fastBase + `,"x":NaN}`,
		// Structure.
		"trailing garbage":    `{` + fastBase + `}x`,
		"second object":       `{` + fastBase + `}{}`,
		"trailing comma":      `{` + fastBase + `,}`,
		"missing colon":       `{"event_id" "e1"}`,
		"missing comma":       `{"event_id":"e1" "user":"alice"}`,
		"truncated":           `{` + fastBase,
		"empty input":         ``,
		"only whitespace":     " \n",
		"empty object":        `{}`,
		"top-level null":      `null`,
		"unquoted key":        `{event_id:"e1"}`,
		"BOM":                 "\ufeff{" + fastBase + "}",
		"non-JSON whitespace": "{" + fastBase + "}\v",
		// Wrong types for known fields.
		"user as number":       `{"event_id":"e1","user":7,"team":"red","score":12,"event_time":"2026-11-26T10:00:00Z"}`,
		"event_time as number": `{"event_id":"e1","user":"alice","team":"red","score":12,"event_time":1764151200000}`,
		// Missing or invalid values: every error comes from the std path.
		"missing score":       `{"event_id":"e1","user":"alice","team":"red","event_time":"2026-11-26T10:00:00Z"}`,
		"missing event_time":  `{"event_id":"e1","user":"alice","team":"red","score":12}`,
		"missing event_id":    `{"user":"alice","team":"red","score":12,"event_time":"2026-11-26T10:00:00Z"}`,
		"empty user":          `{"event_id":"e1","user":"","team":"red","score":12,"event_time":"2026-11-26T10:00:00Z"}`,
		"empty event_time":    `{"event_id":"e1","user":"alice","team":"red","score":12,"event_time":""}`,
		"unparseable time":    `{"event_id":"e1","user":"alice","team":"red","score":12,"event_time":"yesterday"}`,
		"time in the future":  `{"event_id":"e1","user":"alice","team":"red","score":12,"event_time":"2026-11-26T13:00:01Z"}`,
		"time too old":        `{"event_id":"e1","user":"alice","team":"red","score":12,"event_time":"1999-12-31T23:59:59Z"}`,
		"score negative":      `{"event_id":"e1","user":"alice","team":"red","score":-1,"event_time":"2026-11-26T10:00:00Z"}`,
		"score above max":     `{"event_id":"e1","user":"alice","team":"red","score":1000001,"event_time":"2026-11-26T10:00:00Z"}`,
		"unsupported version": `{` + fastBase + `,"schema_version":2}`,
		"129-byte platform":   `{` + fastBase + `,"platform":"` + strings.Repeat("p", MaxStringBytes+1) + `"}`,
		"version minus zero":  `{` + fastBase + `,"schema_version":-0}`,
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			if e, ok := decodeJSONFast([]byte(in), testNow); ok {
				t.Fatalf("fast path accepted %q as %+v", in, e)
			}
			assertSameAsStd(t, []byte(in))
		})
	}
}

// assertSameAsStd checks that DecodeJSON returns what the reference decoder
// returns: the same event, or an error of the same type, reason, field and text.
func assertSameAsStd(t *testing.T, in []byte) {
	t.Helper()
	got, gotErr := DecodeJSON(in, testNow)
	want, wantErr := decodeJSONStd(in, testNow)
	if got != want {
		t.Fatalf("input %q:\nDecodeJSON    %+v\ndecodeJSONStd %+v", in, got, want)
	}
	if msg := errorDifference(gotErr, wantErr); msg != "" {
		t.Fatalf("input %q: %s", in, msg)
	}
}

// errorDifference describes how two errors differ, or returns "" when they are
// interchangeable for callers (nil both, or *ValidationErrors with equal fields).
func errorDifference(got, want error) string {
	if got == nil && want == nil {
		return ""
	}
	if got == nil || want == nil {
		return "DecodeJSON error " + errString(got) + ", decodeJSONStd error " + errString(want)
	}
	var g, w *ValidationError
	if !errors.As(got, &g) || !errors.As(want, &w) {
		return "error is not a *ValidationError: " + got.Error() + " / " + want.Error()
	}
	if *g != *w || got.Error() != want.Error() {
		return "DecodeJSON error " + got.Error() + ", decodeJSONStd error " + want.Error()
	}
	return ""
}

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

// FuzzDecodeJSONFastPath holds the fast path to its guarantee: whenever it
// accepts an input, the reference decoder accepts it too with an identical
// event; and DecodeJSON as a whole is indistinguishable from decodeJSONStd.
// The seed corpus lives in testdata/fuzz/FuzzDecodeJSONFastPath.
func FuzzDecodeJSONFastPath(f *testing.F) {
	for _, s := range []string{
		typicalEvent,
		`{` + fastBase + `}`,
		" {\"event_id\" : \"e1\",\n\"user\":\"alice\" ,\"team\":\"red\",\"score\":-0,\"event_time\":\"2026-11-26T12:30:00.5+02:00\"}\t",
		`{` + fastBase + `,"n":-12.5e+3,"t":true,"f":false,"z":null,"s":"x","über":0}`,
		`{"event_id":"e1","User":"alice","team":"red","score":12,"event_time":"2026-11-26T10:00:00Z"}`,
		`{` + fastBase + `,"ſcore":13}`,
		`{` + fastBase + `,"user":"bob"}`,
		`{` + fastBase + `,"platform":null,"schema_version":null}`,
		`{"event_id":"e1","user":"al\u0069ce","team":"red","score":12,"event_time":"2026-11-26T10:00:00Z"}`,
		"{\"event_id\":\"e\xff\",\"user\":\"alice\",\"team\":\"red\",\"score\":12,\"event_time\":\"2026-11-26T10:00:00Z\"}",
		`{` + fastBase + `,"meta":{"a":[1,2]}}`,
		`{"event_id":"e1","user":"alice","team":"red","score":012,"event_time":"2026-11-26T10:00:00Z"}`,
		`{"event_id":"e1","user":"alice","team":"red","score":1e2,"event_time":"2026-11-26T10:00:00Z"}`,
		`{"event_id":"e1","user":"alice","team":"red","score":99999999999999999999,"event_time":"2026-11-26T10:00:00Z"}`,
		`{` + fastBase + `,"schema_version":2}`,
		`{` + fastBase + `}x`,
		`{"event_id":"e1","user":"alice","team":"red","score":12,"event_time":"2026-11-26T13:00:01Z"}`,
		`{}`,
		``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		fast, ok := decodeJSONFast(in, testNow)
		want, wantErr := decodeJSONStd(in, testNow)
		if ok {
			if wantErr != nil {
				t.Fatalf("fast path accepted %q, std decoder rejects it: %v", in, wantErr)
			}
			if fast != want {
				t.Fatalf("input %q:\nfast %+v\nstd  %+v", in, fast, want)
			}
		}
		got, gotErr := DecodeJSON(in, testNow)
		if got != want {
			t.Fatalf("input %q:\nDecodeJSON    %+v\ndecodeJSONStd %+v", in, got, want)
		}
		if msg := errorDifference(gotErr, wantErr); msg != "" {
			t.Fatalf("input %q: %s", in, msg)
		}
	})
}

func BenchmarkDecodeJSON(b *testing.B) {
	in := []byte(typicalEvent)
	for _, bc := range []struct {
		name   string
		decode func([]byte) error
	}{
		{"std", func(in []byte) error { _, err := decodeJSONStd(in, testNow); return err }},
		{"fast", func(in []byte) error { _, err := DecodeJSON(in, testNow); return err }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(in)))
			for b.Loop() {
				if err := bc.decode(in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
