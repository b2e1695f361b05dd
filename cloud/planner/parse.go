package planner

import (
	"fmt"
	"strings"
)

// ParseError is a syntax error in a label expression; Pos is the byte offset
// in the expression where it was found.
type ParseError struct {
	Expr string
	Pos  int
	Msg  string
}

func (e *ParseError) Error() string {
	expr := e.Expr
	if len(expr) > maxQuoted {
		expr = expr[:maxQuoted] + "..."
	}
	return fmt.Sprintf("label expression %q: at %d: %s", expr, e.Pos, e.Msg)
}

// MaxDepth bounds how deeply an expression nests: parentheses, ! and chained binary operators
// each add a level to its tree, which parsing and matching walk recursively. An expression from
// a Jenkins queue item is untrusted input; a deeper one is refused, not a stack overflow.
const MaxDepth = 1000

// maxQuoted is how much of an expression an error message quotes.
const maxQuoted = 200

// Parse parses a Jenkins label expression: labels (bare, or "quoted" with
// backslash escapes), !, &&, ||, -> and <->, and parentheses, with Jenkins'
// precedence ! > && > || > -> > <-> (binary operators group to the left).
// An expression of only white space is the empty Expr.
func Parse(expr string) (Expr, error) {
	toks, err := lex(expr)
	if err != nil {
		return Expr{}, err
	}
	if len(toks) == 1 { // only EOF
		return Expr{src: expr}, nil
	}
	p := &parser{src: expr, toks: toks}
	root, _, err := p.binary(0)
	if err != nil {
		return Expr{}, err
	}
	if t := p.peek(); t.kind != tEOF {
		return Expr{}, p.errorf(t.pos, "unexpected %s", t)
	}
	return Expr{root: root, src: expr}, nil
}

// levels lists the binary operators from the lowest precedence up.
var levels = []string{"<->", "->", "||", "&&"}

type parser struct {
	src  string
	toks []token
	i    int
	open int // ( and ! being parsed
}

func (p *parser) peek() token { return p.toks[p.i] }
func (p *parser) next() token { t := p.toks[p.i]; p.i++; return t }

func (p *parser) errorf(pos int, format string, args ...any) error {
	return &ParseError{Expr: p.src, Pos: pos, Msg: fmt.Sprintf(format, args...)}
}

// binary parses the operators of precedence level and above; it returns the tree and its
// height.
func (p *parser) binary(level int) (node, int, error) {
	if level == len(levels) {
		return p.unary()
	}
	l, lh, err := p.binary(level + 1)
	if err != nil {
		return nil, 0, err
	}
	for p.peek().kind == tOp && p.peek().text == levels[level] {
		op := p.next()
		r, rh, err := p.binary(level + 1)
		if err != nil {
			return nil, 0, err
		}
		l, lh = binary{op: levels[level], l: l, r: r}, max(lh, rh)+1
		if lh > MaxDepth {
			return nil, 0, p.tooDeep(op.pos)
		}
	}
	return l, lh, nil
}

func (p *parser) unary() (node, int, error) {
	t := p.next()
	switch {
	case t.kind == tAtom:
		return atom(t.text), 1, nil
	case t.kind == tOp && (t.text == "!" || t.text == "("):
		// Counted on the way down, so that a deep nest is refused before it recurses deeper.
		if p.open++; p.open > MaxDepth {
			return nil, 0, p.tooDeep(t.pos)
		}
		defer func() { p.open-- }()
		if t.text == "!" {
			x, h, err := p.unary()
			if err != nil {
				return nil, 0, err
			}
			return not{x: x}, h + 1, nil
		}
		x, h, err := p.binary(0)
		if err != nil {
			return nil, 0, err
		}
		if c := p.next(); c.kind != tOp || c.text != ")" {
			return nil, 0, p.errorf(c.pos, "expected ) to close ( at %d, found %s", t.pos, c)
		}
		return x, h, nil
	}
	return nil, 0, p.errorf(t.pos, "expected a label, ! or (, found %s", t)
}

func (p *parser) tooDeep(pos int) error {
	return p.errorf(pos, "the expression nests deeper than %d levels (parentheses, ! and chained operators)", MaxDepth)
}

type tokenKind int

const (
	tEOF tokenKind = iota
	tAtom
	tOp
)

type token struct {
	kind tokenKind
	text string
	pos  int
}

func (t token) String() string {
	switch t.kind {
	case tEOF:
		return "end of expression"
	case tAtom:
		return fmt.Sprintf("label %q", t.text)
	}
	return fmt.Sprintf("%q", t.text)
}

var operators = []string{"<->", "->", "&&", "||", "!", "(", ")"}

// atomStop are the characters that end a bare label.
const atomStop = " \t\r\n&|!()\"'<"

func lex(s string) ([]token, error) {
	var toks []token
	for i := 0; i < len(s); {
		if strings.ContainsRune(" \t\r\n", rune(s[i])) {
			i++
			continue
		}
		if op := opAt(s, i); op != "" {
			toks = append(toks, token{kind: tOp, text: op, pos: i})
			i += len(op)
			continue
		}
		switch s[i] {
		case '&', '|', '<':
			return nil, &ParseError{Expr: s, Pos: i, Msg: fmt.Sprintf("unexpected %q (operators are !, &&, ||, ->, <->)", s[i])}
		case '"':
			text, n, err := quotedAtom(s, i)
			if err != nil {
				return nil, err
			}
			toks = append(toks, token{kind: tAtom, text: text, pos: i})
			i += n
			continue
		case '\'':
			return nil, &ParseError{Expr: s, Pos: i, Msg: "single quotes are not allowed; quote labels with \""}
		}
		start := i
		for i < len(s) && !strings.ContainsRune(atomStop, rune(s[i])) && !strings.HasPrefix(s[i:], "->") {
			i++
		}
		toks = append(toks, token{kind: tAtom, text: s[start:i], pos: start})
	}
	return append(toks, token{kind: tEOF, pos: len(s)}), nil
}

func opAt(s string, i int) string {
	for _, op := range operators {
		if strings.HasPrefix(s[i:], op) {
			return op
		}
	}
	return ""
}

// quotedAtom reads a "..." label starting at s[i]; it returns the label and
// the number of bytes read.
func quotedAtom(s string, i int) (string, int, error) {
	var b strings.Builder
	for j := i + 1; j < len(s); j++ {
		switch s[j] {
		case '\\':
			if j+1 < len(s) {
				j++
				b.WriteByte(s[j])
			}
		case '"':
			return b.String(), j + 1 - i, nil
		default:
			b.WriteByte(s[j])
		}
	}
	return "", 0, &ParseError{Expr: s, Pos: i, Msg: "unterminated quoted label"}
}
