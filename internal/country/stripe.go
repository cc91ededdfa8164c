package country

// The Stripe classification (TableVersion). DOMAIN.md rule 4 and the published policy name the
// people Stripe Payments Europe, Ltd. serves: residents of the EEA (the EU 27 plus Iceland,
// Liechtenstein and Norway), the United Kingdom and Switzerland. ISO 3166-1 gives many
// territories codes of their own, so each is decided here, one by one, with its source. The
// rule applied to every territory: where the EU treaties or the EEA Agreement apply to it, or
// where it has the UK's data-protection regime and sits inside the British Islands, its
// residents are in the European group; otherwise they are not.

// stripeIE maps every code whose residents pay through Stripe Payments Europe to its basis.
var stripeIE = map[string]string{
	// EU member states (Art. 52 TEU).
	"AT": "EU member state", "BE": "EU member state", "BG": "EU member state",
	"CY": "EU member state", "CZ": "EU member state", "DE": "EU member state",
	"DK": "EU member state", "EE": "EU member state", "ES": "EU member state",
	"FI": "EU member state", "FR": "EU member state", "GR": "EU member state",
	"HR": "EU member state", "HU": "EU member state", "IE": "EU member state",
	"IT": "EU member state", "LT": "EU member state", "LU": "EU member state",
	"LV": "EU member state", "MT": "EU member state", "NL": "EU member state",
	"PL": "EU member state", "PT": "EU member state", "RO": "EU member state",
	"SE": "EU member state", "SI": "EU member state", "SK": "EU member state",

	// EFTA states party to the EEA Agreement (OJ L 1, 3.1.1994, Art. 126).
	"IS": "EEA (EFTA state party to the EEA Agreement)",
	"LI": "EEA (EFTA state party to the EEA Agreement)",
	"NO": "EEA (EFTA state party to the EEA Agreement; Svalbard excluded by Art. 126(1))",

	// Named by the published policy.
	"GB": "United Kingdom (named by the privacy policy)",
	"CH": "Switzerland (named by the privacy policy)",

	// Outermost regions: part of the EU, the treaties apply in full (Art. 349 and 355(1) TFEU).
	// The Canary Islands, the Azores and Madeira are outermost regions too but have no code.
	"GF": "French Guiana: EU outermost region (Art. 349, 355(1) TFEU)",
	"GP": "Guadeloupe: EU outermost region (Art. 349, 355(1) TFEU)",
	"MQ": "Martinique: EU outermost region (Art. 349, 355(1) TFEU)",
	"RE": "Réunion: EU outermost region (Art. 349, 355(1) TFEU)",
	"YT": "Mayotte: EU outermost region since 2014 (Art. 349, 355(1) TFEU; Decision 2012/419/EU)",
	"MF": "Saint-Martin: EU outermost region (Art. 349, 355(1) TFEU)",

	// Åland is part of Finland and of the EU; its derogations (Protocol 2 to the 1994 Act of
	// Accession, Art. 355(4) TFEU) concern taxes and land, not the single market or the GDPR.
	"AX": "Åland: part of the EU (Art. 355(4) TFEU, Protocol 2 to the 1994 Act of Accession)",

	// Gibraltar left the EU with the UK (it was in the EU via Art. 355(3) TFEU until 31 January
	// 2020). It is not part of the UK, but its data protection is the Gibraltar GDPR (Data
	// Protection Act 2004 as amended), which mirrors the UK GDPR, and the UK answers for its
	// external relations. Decision: European group, the more protective reading of the policy.
	"GI": "Gibraltar: British Overseas Territory under the Gibraltar GDPR, formerly EU (Art. 355(3) TFEU); decided as UK",

	// The Crown Dependencies are not part of the UK (Interpretation Act 1978, Sch. 1: "United
	// Kingdom" is Great Britain and Northern Ireland), but they are in the British Islands and
	// the Common Travel Area, have GDPR-equivalent laws, and hold EU adequacy decisions
	// (Guernsey 2003/821/EC, Isle of Man 2004/411/EC, Jersey 2008/393/EC). Decision: European
	// group, so their residents' card data stays under a GDPR-grade regime with no transfer to
	// the US entity. Reading "United Kingdom" narrowly would send them to Stripe, Inc. and need
	// a transfer safeguard their own law would ask for.
	"GG": "Guernsey: Crown Dependency, British Islands, EU adequacy 2003/821/EC; decided as UK",
	"JE": "Jersey: Crown Dependency, British Islands, EU adequacy 2008/393/EC; decided as UK",
	"IM": "Isle of Man: Crown Dependency, British Islands, EU adequacy 2004/411/EC; decided as UK",
}

// stripeUSTerritories documents the territories that a reader might expect in the European
// group but that are not in it. Their entity is StripeUS like every code not in stripeIE; the
// map exists so that each decision carries its source and the tests can name them.
var stripeUSTerritories = map[string]string{
	// Overseas countries and territories (Annex II TFEU): associated with the EU, not part of
	// it (Art. 355(2) TFEU, Part Four TFEU).
	"PM": "Saint-Pierre-et-Miquelon: OCT, not in the EU (Annex II TFEU)",
	"BL": "Saint-Barthélemy: OCT since 2012, not in the EU (Decision 2010/718/EU)",
	"WF": "Wallis and Futuna: OCT, not in the EU (Annex II TFEU)",
	"PF": "French Polynesia: OCT, not in the EU (Annex II TFEU)",
	"NC": "New Caledonia: OCT, not in the EU (Annex II TFEU)",
	"TF": "French Southern and Antarctic Lands: OCT, not in the EU (Annex II TFEU)",
	"AW": "Aruba: OCT, not in the EU (Annex II TFEU)",
	"CW": "Curaçao: OCT, not in the EU (Annex II TFEU)",
	"SX": "Sint Maarten: OCT, not in the EU (Annex II TFEU)",
	"BQ": "Bonaire, Sint Eustatius and Saba: OCT, not in the EU (Annex II TFEU)",
	"GL": "Greenland: OCT, left the EC in 1985 (Greenland Treaty; Annex II TFEU)",

	// Outside both the EU and the EEA Agreement.
	"FO": "Faroe Islands: the treaties do not apply (Art. 355(5)(a) TFEU); not in the EEA",
	"SJ": "Svalbard and Jan Mayen: Svalbard is excluded from the EEA Agreement (Art. 126(1)); Jan Mayen has no resident population",
	"BV": "Bouvet Island: uninhabited Norwegian dependency, not part of the Kingdom under the EEA Agreement",

	// European states outside the EEA that the policy does not name: the rule applies as
	// written, whatever their own adequacy status.
	"AD": "Andorra: not in the EEA, not named by the policy",
	"MC": "Monaco: not in the EEA, not named by the policy",
	"SM": "San Marino: not in the EEA, not named by the policy",
	"VA": "Holy See: not in the EEA, not named by the policy",

	// British Overseas Territories other than Gibraltar: not part of the UK, outside Europe,
	// without the UK GDPR.
	"AI": "Anguilla: British Overseas Territory, not part of the UK",
	"BM": "Bermuda: British Overseas Territory, not part of the UK",
	"FK": "Falkland Islands: British Overseas Territory, not part of the UK",
	"GS": "South Georgia and the South Sandwich Islands: British Overseas Territory, not part of the UK",
	"IO": "British Indian Ocean Territory: British Overseas Territory, not part of the UK",
	"KY": "Cayman Islands: British Overseas Territory, not part of the UK",
	"MS": "Montserrat: British Overseas Territory, not part of the UK",
	"PN": "Pitcairn: British Overseas Territory, not part of the UK",
	"SH": "Saint Helena, Ascension and Tristan da Cunha: British Overseas Territory, not part of the UK",
	"TC": "Turks and Caicos Islands: British Overseas Territory, not part of the UK",
	"VG": "British Virgin Islands: British Overseas Territory, not part of the UK",
}
