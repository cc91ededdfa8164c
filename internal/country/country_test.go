package country_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/lumio/contactcentre/internal/country"
	"github.com/lumio/contactcentre/internal/dataflow"
)

// wantEntity is the expected entity of every assigned code, written out independently of the
// package's tables (ISO 3166-1 from the Debian iso-codes list, decisions from stripe.go's
// sources), so that a change to either side fails here.
func wantEntity() map[string]string {
	const ie, us = country.StripeIE, country.StripeUS
	return map[string]string{
		"AD": us, "AE": us, "AF": us, "AG": us, "AI": us, "AL": us, "AM": us, "AO": us,
		"AQ": us, "AR": us, "AS": us, "AT": ie, "AU": us, "AW": us, "AX": ie, "AZ": us,
		"BA": us, "BB": us, "BD": us, "BE": ie, "BF": us, "BG": ie, "BH": us, "BI": us,
		"BJ": us, "BL": us, "BM": us, "BN": us, "BO": us, "BQ": us, "BR": us, "BS": us,
		"BT": us, "BV": us, "BW": us, "BY": us, "BZ": us, "CA": us, "CC": us, "CD": us,
		"CF": us, "CG": us, "CH": ie, "CI": us, "CK": us, "CL": us, "CM": us, "CN": us,
		"CO": us, "CR": us, "CU": us, "CV": us, "CW": us, "CX": us, "CY": ie, "CZ": ie,
		"DE": ie, "DJ": us, "DK": ie, "DM": us, "DO": us, "DZ": us, "EC": us, "EE": ie,
		"EG": us, "EH": us, "ER": us, "ES": ie, "ET": us, "FI": ie, "FJ": us, "FK": us,
		"FM": us, "FO": us, "FR": ie, "GA": us, "GB": ie, "GD": us, "GE": us, "GF": ie,
		"GG": ie, "GH": us, "GI": ie, "GL": us, "GM": us, "GN": us, "GP": ie, "GQ": us,
		"GR": ie, "GS": us, "GT": us, "GU": us, "GW": us, "GY": us, "HK": us, "HM": us,
		"HN": us, "HR": ie, "HT": us, "HU": ie, "ID": us, "IE": ie, "IL": us, "IM": ie,
		"IN": us, "IO": us, "IQ": us, "IR": us, "IS": ie, "IT": ie, "JE": ie, "JM": us,
		"JO": us, "JP": us, "KE": us, "KG": us, "KH": us, "KI": us, "KM": us, "KN": us,
		"KP": us, "KR": us, "KW": us, "KY": us, "KZ": us, "LA": us, "LB": us, "LC": us,
		"LI": ie, "LK": us, "LR": us, "LS": us, "LT": ie, "LU": ie, "LV": ie, "LY": us,
		"MA": us, "MC": us, "MD": us, "ME": us, "MF": ie, "MG": us, "MH": us, "MK": us,
		"ML": us, "MM": us, "MN": us, "MO": us, "MP": us, "MQ": ie, "MR": us, "MS": us,
		"MT": ie, "MU": us, "MV": us, "MW": us, "MX": us, "MY": us, "MZ": us, "NA": us,
		"NC": us, "NE": us, "NF": us, "NG": us, "NI": us, "NL": ie, "NO": ie, "NP": us,
		"NR": us, "NU": us, "NZ": us, "OM": us, "PA": us, "PE": us, "PF": us, "PG": us,
		"PH": us, "PK": us, "PL": ie, "PM": us, "PN": us, "PR": us, "PS": us, "PT": ie,
		"PW": us, "PY": us, "QA": us, "RE": ie, "RO": ie, "RS": us, "RU": us, "RW": us,
		"SA": us, "SB": us, "SC": us, "SD": us, "SE": ie, "SG": us, "SH": us, "SI": ie,
		"SJ": us, "SK": ie, "SL": us, "SM": us, "SN": us, "SO": us, "SR": us, "SS": us,
		"ST": us, "SV": us, "SX": us, "SY": us, "SZ": us, "TC": us, "TD": us, "TF": us,
		"TG": us, "TH": us, "TJ": us, "TK": us, "TL": us, "TM": us, "TN": us, "TO": us,
		"TR": us, "TT": us, "TV": us, "TW": us, "TZ": us, "UA": us, "UG": us, "UM": us,
		"US": us, "UY": us, "UZ": us, "VA": us, "VC": us, "VE": us, "VG": us, "VI": us,
		"VN": us, "VU": us, "WF": us, "WS": us, "YE": us, "YT": ie, "ZA": us, "ZM": us,
		"ZW": us,
	}
}

func TestStripeEntityForEveryAssignedCode(t *testing.T) {
	t.Parallel()
	want := wantEntity()
	if len(want) != 249 {
		t.Fatalf("test table has %d codes, want 249", len(want))
	}
	for code, entity := range want {
		t.Run(code, func(t *testing.T) {
			t.Parallel()
			got, err := country.StripeEntityFor(code)
			if err != nil {
				t.Fatalf("StripeEntityFor(%q): %v", code, err)
			}
			if got != entity {
				t.Errorf("StripeEntityFor(%q) = %q, want %q", code, got, entity)
			}
			if !country.IsAssigned(code) || country.Name(code) == "" || country.StripeBasis(code) == "" {
				t.Errorf("%q: assigned %v, name %q, basis %q", code, country.IsAssigned(code), country.Name(code), country.StripeBasis(code))
			}
		})
	}
}

func TestCodesAreExactlyTheAssignedList(t *testing.T) {
	t.Parallel()
	var want []string
	for code := range wantEntity() {
		want = append(want, code)
	}
	slices.Sort(want)
	if diff := cmp.Diff(want, country.Codes()); diff != "" {
		t.Errorf("Codes() (-want +got):\n%s", diff)
	}
}

// TestEuropeanGroupIsExactlyThePolicy pins the stripe_ie set to its definition: the EU 27,
// the three EFTA members of the EEA, the UK and Switzerland, plus the territories decided in
// stripe.go. A new entry anywhere must be added here on purpose.
func TestEuropeanGroupIsExactlyThePolicy(t *testing.T) {
	t.Parallel()
	eu27 := []string{"AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU",
		"IE", "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK"}
	if len(eu27) != 27 {
		t.Fatalf("eu27 has %d members", len(eu27))
	}
	eeaEFTA := []string{"IS", "LI", "NO"}
	named := []string{"GB", "CH"}
	outermost := []string{"GF", "GP", "MQ", "RE", "YT", "MF"}
	euPart := []string{"AX"}
	britishIslands := []string{"GI", "GG", "JE", "IM"}
	want := slices.Concat(eu27, eeaEFTA, named, outermost, euPart, britishIslands)
	slices.Sort(want)

	var got []string
	for _, code := range country.Codes() {
		if e, _ := country.StripeEntityFor(code); e == country.StripeIE {
			got = append(got, code)
		}
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("stripe_ie codes (-want +got):\n%s", diff)
	}
}

func TestDocumentedTerritoriesGoToTheUSEntity(t *testing.T) {
	t.Parallel()
	for _, code := range []string{"PM", "BL", "WF", "PF", "NC", "TF", "AW", "CW", "SX", "BQ", "GL", "FO", "SJ", "BV",
		"AD", "MC", "SM", "VA", "AI", "BM", "FK", "GS", "IO", "KY", "MS", "PN", "SH", "TC", "VG"} {
		got, err := country.StripeEntityFor(code)
		if err != nil || got != country.StripeUS {
			t.Errorf("StripeEntityFor(%q) = %q, %v; want stripe_us", code, got, err)
		}
		if basis := country.StripeBasis(code); basis == "outside the EEA, the United Kingdom and Switzerland" {
			t.Errorf("%q has no documented decision", code)
		}
	}
}

func TestUnassignedCodesAreErrors(t *testing.T) {
	t.Parallel()
	for _, code := range []string{"", "us", "Us", " US", "US ", "USA", "U", "XK", "ZZ", "AA", "QM", "EU", "UK", "EA", "IC", "AN", "CS", "YU", "12", "É"} {
		got, err := country.StripeEntityFor(code)
		if !errors.Is(err, country.ErrUnassigned) || got != "" {
			t.Errorf("StripeEntityFor(%q) = %q, %v; want ErrUnassigned", code, got, err)
		}
		if country.IsAssigned(code) || country.Name(code) != "" || country.StripeBasis(code) != "" {
			t.Errorf("%q is reported as assigned", code)
		}
	}
}

func TestEntityNamesMatchTheRegistry(t *testing.T) {
	t.Parallel()
	if country.StripeUS != dataflow.StripeUS || country.StripeIE != dataflow.StripeIE {
		t.Errorf("entities %q, %q differ from the registry's %q, %q", country.StripeUS, country.StripeIE, dataflow.StripeUS, dataflow.StripeIE)
	}
	if country.TableVersion == "" || country.CurrencyTableVersion == "" {
		t.Error("table versions must be set")
	}
}

func TestCurrencies(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		code     string
		exponent int
		ok       bool
	}{
		{"EUR", 2, true}, {"USD", 2, true}, {"CAD", 2, true}, {"GBP", 2, true}, {"CHF", 2, true},
		{"JPY", 0, true}, {"KRW", 0, true}, {"ISK", 0, true}, {"CLP", 0, true}, {"VND", 0, true},
		{"KWD", 3, true}, {"BHD", 3, true}, {"TND", 3, true}, {"CLF", 4, true}, {"UYW", 4, true},
		{"HUF", 2, true}, {"XCG", 2, true}, {"ZWG", 2, true}, {"SLE", 2, true},
		// Not currencies a sale can be priced in: withdrawn, N.A. minor unit, malformed.
		{"HRK", 0, false}, {"ANG", 0, false}, {"ZWL", 0, false}, {"DEM", 0, false},
		{"XAU", 0, false}, {"XDR", 0, false}, {"XTS", 0, false}, {"XXX", 0, false},
		{"eur", 0, false}, {"EU", 0, false}, {"EURO", 0, false}, {"", 0, false},
	} {
		e, ok := country.CurrencyExponent(tc.code)
		if e != tc.exponent || ok != tc.ok || country.IsCurrency(tc.code) != tc.ok {
			t.Errorf("CurrencyExponent(%q) = %d, %v; want %d, %v", tc.code, e, ok, tc.exponent, tc.ok)
		}
	}
}
