package secrets

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const cipher = "AQICAHhZcWJzZWNyZXQrL2FiYz0xMjM0NTY3ODkw"

func TestSet(t *testing.T) {
	tests := []struct {
		name, src, key, want string
		line                 int
	}{
		{
			name: "new secrets section after cluster's last entry (before a comment at the keys' indentation), odd indentation kept",
			src:  "# project\ncluster:   # the cluster\n    name: demo   # name\n    search_path:\n    - templates\n    # trailing comment of search_path\n\n# between sections\nother:\n  x: 1\n",
			key:  "DB",
			want: "# project\ncluster:   # the cluster\n    name: demo   # name\n    search_path:\n    - templates\n    secrets:\n        DB: " + cipher + "\n    # trailing comment of search_path\n\n# between sections\nother:\n  x: 1\n",
			line: 7,
		},
		{
			name: "new entry after the last, nested values and blank lines inside",
			src:  "cluster:\n  secrets:\n     A: |\n       line one\n\n       line two\n     B: x   # keep me\n  name: demo\n",
			key:  "C",
			want: "cluster:\n  secrets:\n     A: |\n       line one\n\n       line two\n     B: x   # keep me\n     C: " + cipher + "\n  name: demo\n",
			line: 8,
		},
		{
			name: "replace in line, comment and its spacing kept",
			src:  "cluster:\n  secrets:\n    A: old   #   the A\n    B: 'b'\n",
			key:  "A",
			want: "cluster:\n  secrets:\n    A: " + cipher + "   #   the A\n    B: 'b'\n",
			line: 3,
		},
		{
			name: "replace a quoted value, last line without newline",
			src:  "cluster:\n  secrets:\n    A: \"old\"",
			key:  "A",
			want: "cluster:\n  secrets:\n    A: " + cipher,
			line: 3,
		},
		{
			name: "replace a block scalar by one line",
			src:  "cluster:\n  secrets:\n    A: >\n      abc\n      def\n    B: b\n",
			key:  "A",
			want: "cluster:\n  secrets:\n    A: " + cipher + "\n    B: b\n",
			line: 3,
		},
		{
			name: "empty secrets",
			src:  "cluster:\n  secrets:   # none yet\n  name: demo\n",
			key:  "A",
			want: "cluster:\n  secrets:   # none yet\n    A: " + cipher + "\n  name: demo\n",
			line: 3,
		},
		{
			name: "secrets: {} becomes a block",
			src:  "cluster:\n  secrets: {}  # none\n  name: demo\n",
			key:  "A",
			want: "cluster:\n  secrets:  # none\n    A: " + cipher + "\n  name: demo\n",
			line: 3,
		},
		{
			name: "CRLF line endings",
			src:  "cluster:\r\n  name: demo\r\n",
			key:  "A",
			want: "cluster:\r\n  name: demo\r\n  secrets:\r\n    A: " + cipher + "\r\n",
			line: 4,
		},
		{
			name: "cluster's last entry is a list at the key's indentation",
			src:  "cluster:\n  nodes:\n  - id: 0\n  # between items\n  - id: 1\n\nnext: 1\n",
			key:  "A",
			want: "cluster:\n  nodes:\n  - id: 0\n  # between items\n  - id: 1\n  secrets:\n    A: " + cipher + "\n\nnext: 1\n",
			line: 7,
		},
		{
			name: "a key given twice: the last one is replaced",
			src:  "cluster:\n  secrets:\n    A: one\n    A: two\n",
			key:  "A",
			want: "cluster:\n  secrets:\n    A: one\n    A: " + cipher + "\n",
			line: 4,
		},
		{
			name: "non-ASCII before the value",
			src:  "cluster:\n  secrets:\n    A: \"é\"  # é\n",
			key:  "A",
			want: "cluster:\n  secrets:\n    A: " + cipher + "  # é\n",
			line: 3,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, line, err := Set([]byte(tt.src), tt.key, cipher)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, string(got)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if line != tt.line {
				t.Errorf("line %d, want %d", line, tt.line)
			}
		})
	}
}

func TestSetRefuses(t *testing.T) {
	tests := []struct{ name, src, key, want string }{
		{"flow cluster", "cluster: {name: x}\n", "A", "not a block mapping"},
		{"flow secrets", "cluster:\n  secrets: {A: x}\n", "B", "not a block mapping"},
		{"no cluster", "other: 1\n", "A", "no `cluster:`"},
		{"bad name", "cluster:\n  name: x\n", "a b", "not a secret name"},
		{"anchored value", "cluster:\n  secrets:\n    A: &x old\n", "A", "anchor"},
		{"merge key", "base: &b {A: x}\ncluster:\n  secrets:\n    <<: *b\n", "A", "not a block mapping"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := Set([]byte(tt.src), tt.key, cipher)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestSetQuotesWhatIsNotPlainBase64(t *testing.T) {
	got, _, err := Set([]byte("cluster:\n  name: x\n"), "A", "12345678901234567890")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(got), `A: "12345678901234567890"`) {
		t.Errorf("a numeric value must be quoted:\n%s", got)
	}
}

func TestList(t *testing.T) {
	src := "cluster:\n  secrets:\n    A: x  # c\n    B:\n      nested: 1\n    A: y\n    C: |\n      abc\n"
	got, err := List([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	want := []Entry{{Name: "B", Line: 4}, {Name: "A", Line: 6, Value: "y", Scalar: true}, {Name: "C", Line: 7, Value: "abc\n", Scalar: true}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
