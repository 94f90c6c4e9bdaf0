// Package cli holds the cobra commands, one per file, and the output
// formats (text and JSON). It turns flags into calls on config, render and
// the cluster engine, and errors into messages with advice; it owns no
// cloud logic.
package cli
