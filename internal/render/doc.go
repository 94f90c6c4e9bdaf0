// Package render turns a loaded configuration into boot scripts: Jinja2
// templates over the search path, the docker-compose files, and user-data
// packing. It owns the template data contract of the Python original; it
// never talks to a cloud and never validates configuration keys.
package render
