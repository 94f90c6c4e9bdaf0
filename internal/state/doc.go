// Package state is the coordinator: a lock per cluster (and environment)
// against concurrent changes, a journal of every change, and the record of
// each generation's specs. Storage is separate from locking, as in
// Terraform's state backends; backends (file, postgres, s3) are chosen by
// URL. It knows specs and events, never clouds or templates.
package state
