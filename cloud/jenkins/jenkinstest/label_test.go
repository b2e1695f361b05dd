package jenkinstest

import "testing"

func TestParseExpr(t *testing.T) {
	labels := map[string]bool{"docker": true, "linux": true}
	cases := []struct {
		expr string
		want bool
	}{
		{"", true},
		{"docker", true},
		{"windows", false},
		{"docker && linux", true},
		{"docker && windows", false},
		{"windows || linux", true},
		{"windows || arm", false},
		{"!windows", true},
		{"!docker", false},
		{"!(docker && windows)", true},
		{"(windows || docker) && !arm", true},
		{"windows || docker && !linux", false},
		{"!!docker", true},
	}
	for _, c := range cases {
		e, err := parseExpr(c.expr)
		if err != nil {
			t.Fatalf("parseExpr(%q): %v", c.expr, err)
		}
		if got := e(labels); got != c.want {
			t.Errorf("%q on docker,linux = %v, want %v", c.expr, got, c.want)
		}
	}
	for _, bad := range []string{"a &&", "(a", "a b", "a & b", "&& a", ")"} {
		if _, err := parseExpr(bad); err == nil {
			t.Errorf("parseExpr(%q) accepted", bad)
		}
	}
}
