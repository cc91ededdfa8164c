package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/lumio/contactcentre/internal/dataflow"
)

func TestSubprocessorsMarkdown(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	if err := runSubprocessors(context.Background(), []string{"--format", "markdown"}, nil, &out, &out); err != nil {
		t.Fatal(err)
	}
	for _, p := range dataflow.Registry() {
		if !strings.Contains(out.String(), "| `"+p.ID+"` | "+p.LegalName) {
			t.Errorf("markdown lacks a row for %s", p.ID)
		}
	}
	for _, line := range strings.Split(out.String(), "\n") {
		if strings.HasPrefix(line, "| `twilio`") && !strings.Contains(line, "**no**") {
			t.Errorf("twilio is not shown as undisclosed: %s", line)
		}
	}
}

func TestSubprocessorsCSV(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	if err := runSubprocessors(context.Background(), []string{"--format=csv"}, nil, &out, &out); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&out).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(dataflow.Registry())+1 {
		t.Fatalf("got %d rows, want a header and %d processors", len(rows), len(dataflow.Registry()))
	}
	disclosed := map[string]string{}
	for _, r := range rows[1:] {
		disclosed[r[0]] = r[7]
	}
	want := map[string]string{}
	for _, p := range dataflow.Registry() {
		want[p.ID] = "true"
	}
	want["twilio"] = "false"
	if diff := cmp.Diff(want, disclosed); diff != "" {
		t.Errorf("disclosed column (-want +got):\n%s", diff)
	}
}

func TestSubprocessorsBadFormat(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	if err := runSubprocessors(context.Background(), []string{"--format", "xml"}, nil, &out, &out); err == nil {
		t.Fatal("an unknown format was accepted")
	}
}

func TestRopa(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	if err := runRopa(context.Background(), nil, nil, &out, &out); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	for _, p := range dataflow.Registry() {
		section := "## " + p.LegalName + " (`" + p.ID + "`)"
		i := strings.Index(text, section)
		if i < 0 {
			t.Errorf("no section for %s", p.ID)
			continue
		}
		body := text[i:]
		if j := strings.Index(body[len(section):], "## "); j >= 0 {
			body = body[:len(section)+j]
		}
		for _, want := range []string{"Purposes: ", "Categories of personal data: ", "Recipient: ", "Transfers and safeguards", "Retention: "} {
			if !strings.Contains(body, want) {
				t.Errorf("%s section lacks %q", p.ID, want)
			}
		}
		if strings.Contains(body, "Retention: \n") || strings.Contains(body, "Categories of personal data:  (") {
			t.Errorf("%s has an empty retention or category entry", p.ID)
		}
	}
	if !strings.Contains(text, "**Not disclosed**") {
		t.Error("the undisclosed processor is not flagged")
	}
}
