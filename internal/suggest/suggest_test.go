package suggest

import "testing"

var actions = []string{"set_header", "add_header", "remove_header", "rewrite_from", "rewrite_to", "set_variable", "if_match", "if_not_match", "reject", "redirect", "route", "stop", "log"}

func TestClosest(t *testing.T) {
	tests := []struct {
		name       string
		candidates []string
		want       string
	}{
		{"set_heder", actions, "set_header"},
		{"SET_HEADER", actions, "set_header"}, // case is ignored
		{"add_headers", actions, "add_header"},
		{"rewrite_form", actions, "rewrite_from"}, // transposition: two edits, limit 3
		{"if_notmatch", actions, "if_not_match"},
		{"rejct", actions, "reject"},
		{"stp", actions, "stop"}, // short names allow one edit
		{"lg", actions, "log"},
		{"xyz", actions, ""},
		{"completely_different", actions, ""},
		{"", actions, ""},
		{"set_header", nil, ""},
		{"stir_verstatt", []string{"stir_verstat", "stir_attest", "stir_origid"}, "stir_verstat"},
		{"operand", []string{"action", "direction", "operands", "name", "comment", "when"}, "operands"},
		{"inbnd", []string{"inbound", "outbound", "any"}, ""}, // two edits in five letters is too far
		{"inbond", []string{"inbound", "outbound", "any"}, "inbound"},
		// Never more than three edits, however long the name.
		{"very_long_variable_name", []string{"very_long_variable_nameXXXX"}, ""},
		{"very_long_variable_name", []string{"very_long_variable_nameXXX"}, "very_long_variable_nameXXX"},
		// Ties go to the first candidate.
		{"ab", []string{"ac", "ad"}, "ac"},
	}
	for _, tt := range tests {
		if got := Closest(tt.name, tt.candidates); got != tt.want {
			t.Errorf("Closest(%q) = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestHint(t *testing.T) {
	if got := Hint("set_heder", actions); got != "did you mean set_header?" {
		t.Errorf("Hint = %q", got)
	}
	if got := Hint("nothing_like_it", actions); got != "" {
		t.Errorf("Hint = %q, want empty", got)
	}
}

func BenchmarkClosest(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		Closest("rewrite_form", actions)
	}
}
