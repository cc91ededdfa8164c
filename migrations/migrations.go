// Package migrations embeds the database schema as numbered up/down SQL pairs. sqlc reads the
// same files, so the schema has one source of truth.
package migrations

import "embed"

// FS holds NNNNNN_name.up.sql and NNNNNN_name.down.sql files.
//
//go:embed *.sql
var FS embed.FS
