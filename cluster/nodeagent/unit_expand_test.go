package nodeagent

import "testing"

func TestExpand(t *testing.T) {
	vars := map[string]string{"A": "alpha", "B": "beta", "EMPTY": ""}
	lookup := func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
	cases := []struct{ in, want string }{
		{"", ""},
		{"plain", "plain"},
		{"$(A)", "alpha"},
		{"x$(A)y$(B)z", "xalphaybetaz"},
		{"$(EMPTY)", ""},
		{"$$(A)", "$(A)"},    // escaped reference
		{"$$$(A)", "$alpha"}, // escaped $ then a reference
		{"$$", "$"},          // escape alone
		{"$$$$", "$$"},       // two escapes
		{"$(UNKNOWN)", "$(UNKNOWN)"},
		{"a $(UNKNOWN) $(A)", "a $(UNKNOWN) alpha"},
		{"$(A", "$(A"},          // unterminated: kept as written
		{"$(A)$(B", "alpha$(B"}, // unterminated after a good one
		{"$()", "$()"},          // empty name
		{"$A", "$A"},            // shell syntax is not expanded
		{"${A}", "${A}"},
		{"cost: 5$", "cost: 5$"}, // trailing $
		{"$(A)$(A)", "alphaalpha"},
		{"$(A)$$(B)", "alpha$(B)"},
	}
	for _, c := range cases {
		if got := expand(c.in, lookup); got != c.want {
			t.Errorf("expand(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestMappingOfLaterWins(t *testing.T) {
	m := mappingOf([]envVar{{"A", "1"}, {"B", "2"}, {"A", "3"}})
	if v, ok := m("A"); !ok || v != "3" {
		t.Errorf("A = %q %v, want 3", v, ok)
	}
	if _, ok := m("C"); ok {
		t.Error("C found, want unknown")
	}
}
