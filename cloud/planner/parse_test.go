package planner

import (
	"errors"
	"strings"
	"testing"
)

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		in  string
		pos int
		msg string
	}{
		{"a &&", 4, "expected a label, ! or (, found end of expression"},
		{"&& a", 0, `expected a label, ! or (, found "&&"`},
		{"a & b", 2, `unexpected '&'`},
		{"a | b", 2, `unexpected '|'`},
		{"a b", 2, `unexpected label "b"`},
		{"(a || b", 7, "expected ) to close ( at 0, found end of expression"},
		{"a)", 1, `unexpected ")"`},
		{"()", 1, `found ")"`},
		{"!", 1, "found end of expression"},
		{`"abc`, 0, "unterminated quoted label"},
		{"'a'", 0, "single quotes"},
		{"a < b", 2, "unexpected '<'"},
		{"a -> ", 5, "end of expression"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			_, err := Parse(tc.in)
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("Parse(%q) error = %v, want a *ParseError", tc.in, err)
			}
			if pe.Pos != tc.pos || !strings.Contains(pe.Msg, tc.msg) || pe.Expr != tc.in {
				t.Errorf("Parse(%q) = at %d %q, want at %d containing %q", tc.in, pe.Pos, pe.Msg, tc.pos, tc.msg)
			}
			if !strings.Contains(err.Error(), "label expression") {
				t.Errorf("Error() = %q", err)
			}
		})
	}
}

func TestMatches(t *testing.T) {
	for _, tc := range []struct {
		expr   string
		labels string
		want   bool
	}{
		{"", "", true},
		{"  ", "docker", true},
		{"docker", "docker linux", true},
		{"docker", "linux", false},
		{"docker", "", false},
		{"docker && linux", "docker linux", true},
		{"docker && linux", "docker", false},
		{"docker || linux", "linux", true},
		{"docker || linux", "windows", false},
		{"!windows", "linux", true},
		{"!windows", "windows", false},
		{"!!windows", "windows", true},
		// precedence: ! > && > ||
		{"a || b && c", "a", true},     // a || (b && c)
		{"a || b && c", "b", false},    // not (a || b) && c
		{"(a || b) && c", "a", false},  // parentheses
		{"(a || b) && c", "b c", true}, // parentheses
		{"!a && b", "b", true},         // (!a) && b
		{"!a && b", "a b", false},      // (!a) && b
		{"!(a && b)", "a", true},       // negation of the group
		{"!a || b", "a", false},        // (!a) || b
		{"a&&b", "a b", true},          // no spaces needed
		{"(a)&&(!b)", "a", true},       // no spaces needed
		{"linux-x86_64 && jdk.17", "jdk.17 linux-x86_64", true},
		{`"my label" || x`, "x", true},
		{`"a&&b"`, "a&&b", true},
		{`"a\"b"`, `a"b`, true},
		// implication and equivalence, lowest
		{"a -> b", "", true},
		{"a -> b", "a", false},
		{"a->b", "a b", true},
		{"a <-> b", "", true},
		{"a <-> b", "b", false},
		{"a || b -> c", "b", false}, // (a || b) -> c
		{"a -> b <-> c", "c", true}, // (a -> b) <-> c
	} {
		t.Run(tc.expr+"/"+tc.labels, func(t *testing.T) {
			e, err := Parse(tc.expr)
			if err != nil {
				t.Fatal(err)
			}
			if got := e.Matches(strings.Fields(tc.labels)); got != tc.want {
				t.Errorf("Parse(%q).Matches(%q) = %v, want %v", tc.expr, tc.labels, got, tc.want)
			}
			if e.String() != tc.expr {
				t.Errorf("String() = %q", e.String())
			}
			if e.Empty() != (strings.TrimSpace(tc.expr) == "") {
				t.Errorf("Empty() = %v", e.Empty())
			}
		})
	}
}

func TestNodeMode(t *testing.T) {
	if NodeMode("") != "NORMAL" || NodeMode("  ") != "NORMAL" || NodeMode("docker") != "EXCLUSIVE" {
		t.Errorf("NodeMode: %q %q %q", NodeMode(""), NodeMode("  "), NodeMode("docker"))
	}
	if !TakesUnlabelled("") || TakesUnlabelled("x") {
		t.Error("TakesUnlabelled")
	}
}

// TestParseDepthCapped: a queue item's label expression is untrusted; a million nested
// parentheses (or !, or chained operators) are refused with a clear error instead of recursing
// until the process dies, and the error quotes only the start of the expression.
func TestParseDepthCapped(t *testing.T) {
	const n = 1_000_000
	for name, in := range map[string]string{
		"parentheses": strings.Repeat("(", n) + "a" + strings.Repeat(")", n),
		"unclosed":    strings.Repeat("(", n),
		"nots":        strings.Repeat("!", n) + "a",
		"chain":       "a" + strings.Repeat(" && a", n),
	} {
		_, err := Parse(in)
		var pe *ParseError
		if !errors.As(err, &pe) || !strings.Contains(pe.Msg, "nests deeper than 1000 levels") {
			t.Fatalf("%s: Parse = %v, want a depth error", name, err)
		}
		if len(err.Error()) > 400 {
			t.Errorf("%s: error of %d bytes quotes the whole expression", name, len(err.Error()))
		}
	}
	deep := strings.Repeat("(", MaxDepth-1) + "a" + strings.Repeat(")", MaxDepth-1)
	e, err := Parse(deep)
	if err != nil {
		t.Fatalf("%d levels: %v", MaxDepth-1, err)
	}
	if !e.Matches([]string{"a"}) {
		t.Error("deep expression does not match its label")
	}
}
