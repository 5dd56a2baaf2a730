import Testing

@testable import LeadsyncCore
@testable import LeadsyncValues

@Suite struct PhoneNumberTests {
    @Test(arguments: [
        // NANP in its common spellings.
        ("(555) 234-4567", "+15552344567"),
        ("(555) 123-4567", "+15551234567"),
        ("555.123.4567", "+15551234567"),
        ("555-123-4567", "+15551234567"),
        ("5551234567", "+15551234567"),
        ("1-555-123-4567", "+15551234567"),
        ("1 (555) 123-4567", "+15551234567"),
        ("+1 555 123 4567", "+15551234567"),
        ("+1 (415) 555-0132", "+14155550132"),
        ("+15551234567", "+15551234567"),
        ("  415 555 0132  ", "+14155550132"),
        ("415/555/0132", "+14155550132"),
        ("415 555 0132 x123", "+14155550132"),
        ("415-555-0132 ext. 9", "+14155550132"),
        ("415-555-0132 #22", "+14155550132"),
        ("011 44 20 7946 0958", "+442079460958"),
        // International.
        ("+44 20 7946 0958", "+442079460958"),
        ("+44 (0)20 7946 0958", "+442079460958"),
        ("0044 20 7946 0958", "+442079460958"),
        ("+919509597501", "+919509597501"),
        ("+49 30 901820", "+4930901820"),
    ])
    func normalisesUS(input: String, expected: String) {
        #expect(PhoneNumber.e164(input, region: .us) == expected)
    }

    @Test(arguments: [
        "n/a", "N/A", "tbd", "TBD", "123", "", "   ", "none", "unknown", "555-1234",
        "1-800-FLOWERS", "123-456-7890", "0123456789", "+0 555 123 4567", "+1 555 123 456",
        "+1234", "+12345678901234567", "41555501322", "2-555-123-4567", "555 123 4567 call after 5",
        "+44 20 +7946", "415-555-0132 x", "phone: 4155550132", "٤١٥٥٥٥٠١٣٢",
    ])
    func rejectsGarbage(input: String) {
        #expect(PhoneNumber.e164(input, region: .us) == nil)
    }

    @Test(arguments: [
        ("GB", "020 7946 0958", "+442079460958"),
        ("GB", "07700 900123", "+447700900123"),
        ("DE", "030 901820", "+4930901820"),
        ("FR", "01 23 45 67 89", "+33123456789"),
        ("AU", "(02) 9876 5432", "+61298765432"),
        ("IN", "09509597501", "+919509597501"),
        ("ES", "912 345 678", "+34912345678"),
        ("CA", "(604) 555-0199", "+16045550199"),
        ("GB", "+1 415 555 0132", "+14155550132"),
    ])
    func usesTheDefaultRegion(region: String, input: String, expected: String) {
        #expect(PhoneNumber.e164(input, region: PhoneRegion.known[region]!) == expected)
    }

    @Test func rejectsShortNationalNumbersOutsideNANP() {
        #expect(PhoneNumber.e164("0123", region: PhoneRegion.known["GB"]!) == nil)
        #expect(PhoneNumber.e164("00", region: PhoneRegion.known["GB"]!) == nil)
    }
}
