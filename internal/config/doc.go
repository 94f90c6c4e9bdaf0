// Package config finds, reads, interpolates and validates cloud-compose.yml,
// with the selected environment's overlays merged onto it (env.go).
//
// It owns the file formats the Python cloud-compose tools defined and turns
// them into an ordered document (for templates) and typed structs (for the
// engine). It never talks to a cloud and never renders templates.
package config
