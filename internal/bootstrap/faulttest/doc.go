// Package faulttest holds the fault-injection test: a service wired like supportsvc (bootstrap
// plus the real ticket desk) talks to PostgreSQL through toxiproxy, which adds latency, resets
// connections and cuts the database off while clients keep calling.
package faulttest
