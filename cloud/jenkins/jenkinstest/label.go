package jenkinstest

import (
	"fmt"
	"strings"
)

// expr is a parsed Jenkins label expression: atoms, !, &&, || and parentheses.
type expr func(labels map[string]bool) bool

// parseExpr parses a label expression. The empty expression matches any node.
func parseExpr(s string) (expr, error) {
	toks, err := tokenize(s)
	if err != nil {
		return nil, err
	}
	if len(toks) == 0 {
		return func(map[string]bool) bool { return true }, nil
	}
	p := &parser{toks: toks}
	e, err := p.or()
	if err != nil {
		return nil, err
	}
	if p.pos != len(toks) {
		return nil, fmt.Errorf("label expression %q: unexpected %q", s, toks[p.pos])
	}
	return e, nil
}

func tokenize(s string) ([]string, error) {
	var toks []string
	for i := 0; i < len(s); {
		switch c := s[i]; {
		case c == ' ' || c == '\t' || c == '\n':
			i++
		case strings.HasPrefix(s[i:], "&&") || strings.HasPrefix(s[i:], "||"):
			toks = append(toks, s[i:i+2])
			i += 2
		case c == '!' || c == '(' || c == ')':
			toks = append(toks, s[i:i+1])
			i++
		case c == '&' || c == '|':
			return nil, fmt.Errorf("label expression %q: lone %q", s, c)
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \t\n&|!()", rune(s[j])) {
				j++
			}
			toks = append(toks, s[i:j])
			i = j
		}
	}
	return toks, nil
}

type parser struct {
	toks []string
	pos  int
}

func (p *parser) peek() string {
	if p.pos < len(p.toks) {
		return p.toks[p.pos]
	}
	return ""
}

func (p *parser) or() (expr, error) {
	left, err := p.and()
	for err == nil && p.peek() == "||" {
		p.pos++
		var right expr
		if right, err = p.and(); err == nil {
			l := left
			left = func(m map[string]bool) bool { return l(m) || right(m) }
		}
	}
	return left, err
}

func (p *parser) and() (expr, error) {
	left, err := p.unary()
	for err == nil && p.peek() == "&&" {
		p.pos++
		var right expr
		if right, err = p.unary(); err == nil {
			l := left
			left = func(m map[string]bool) bool { return l(m) && right(m) }
		}
	}
	return left, err
}

func (p *parser) unary() (expr, error) {
	switch t := p.peek(); t {
	case "":
		return nil, fmt.Errorf("label expression: unexpected end")
	case "!":
		p.pos++
		e, err := p.unary()
		if err != nil {
			return nil, err
		}
		return func(m map[string]bool) bool { return !e(m) }, nil
	case "(":
		p.pos++
		e, err := p.or()
		if err != nil {
			return nil, err
		}
		if p.peek() != ")" {
			return nil, fmt.Errorf("label expression: missing )")
		}
		p.pos++
		return e, nil
	case ")", "&&", "||":
		return nil, fmt.Errorf("label expression: unexpected %q", t)
	default:
		p.pos++
		return func(m map[string]bool) bool { return m[t] }, nil
	}
}
