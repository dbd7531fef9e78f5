import OOMKit
import Testing

@Suite struct SHA256Tests {
    @Test(arguments: [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        (
            "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        ),
    ])
    func knownVectors(_ input: String, _ hex: String) {
        #expect(SHA256.hex(of: Array(input.utf8)) == hex)
        #expect(SHA256.digest(Array(input.utf8)).count == 32)
    }

    /// Lengths around the 55/56/64-byte padding boundaries (digests from Python's hashlib).
    @Test(arguments: [
        (55, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318"),
        (56, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a"),
        (63, "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2da457ddc2f34"),
        (64, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb"),
        (65, "635361c48bb9eab14198e76ea8ab7f1a41685d6ad62aa9146d301d4f17eb0ae0"),
        (119, "31eba51c313a5c08226adf18d4a359cfdfd8d2e816b13f4af952f7ea6584dcfb"),
    ])
    func paddingBoundaries(_ length: Int, _ hex: String) {
        #expect(SHA256.hex(of: [UInt8](repeating: 0x61, count: length)) == hex)
    }

    @Test func millionAAndAllBytes() {
        #expect(
            SHA256.hex(of: [UInt8](repeating: 0x61, count: 1_000_000))
                == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
        #expect(
            SHA256.hex(of: (0...255).map { UInt8($0) })
                == "40aff2e9d2d8922e47afd4648e6967497158785fbd1da870e7110266bf944880")
        #expect(SHA256.hexString([0x00, 0x0F, 0xA0, 0xFF]) == "000fa0ff")
    }
}

@Suite struct RFC3339Tests {
    @Test(arguments: [
        (Int64(0), "1970-01-01T00:00:00Z"),
        (1_709_630_000_123_456, "2024-03-05T09:13:20.123456Z"),
        (1_709_630_000_123_000, "2024-03-05T09:13:20.123Z"),
        (1_709_164_800_000_000, "2024-02-29T00:00:00Z"),
        (-1, "1969-12-31T23:59:59.999999Z"),
        (951_782_400_000_000, "2000-02-29T00:00:00Z"),
        (4_102_444_799_000_000, "2099-12-31T23:59:59Z"),
    ])
    func formatAndParse(_ micros: Int64, _ text: String) {
        #expect(RFC3339.format(epochMicroseconds: micros) == text)
        #expect(RFC3339.parse(text) == micros)
    }

    @Test func parseVariants() {
        #expect(RFC3339.parse("2024-03-05T10:13:20+01:00") == 1_709_630_000_000_000)
        #expect(RFC3339.parse("2024-03-05T03:43:20-05:30") == 1_709_630_000_000_000)
        #expect(RFC3339.parse("2024-03-05 09:13:20z") == 1_709_630_000_000_000)
        #expect(RFC3339.parse("2024-03-05t09:13:20,5Z") == 1_709_630_000_500_000)
        #expect(RFC3339.parse("2024-03-05T09:13:20.123456789Z") == 1_709_630_000_123_456)
        #expect(RFC3339.format(epochSeconds: 1_709_630_000.25) == "2024-03-05T09:13:20.250Z")
    }

    @Test(arguments: [
        "", "2024-03-05", "2024-03-05T09:13:20", "2024-13-05T09:13:20Z", "2024-03-05T24:00:00Z",
        "2024-03-05T09:13:20.Z", "2024-03-05T09:13:20Zjunk", "2024-03-05T09:13:20+0100", "24-03-05T09:13:20Z",
    ])
    func rejectsMalformed(_ text: String) {
        #expect(RFC3339.parse(text) == nil)
    }

    @Test func roundTripsSeededRandomInstants() {
        var rng = SplitMix64(seed: 7)
        for _ in 0..<5000 {
            // 1900 to 2200, microsecond resolution.
            let micros = Int64(rng.next() % 9_467_280_000_000_000) - 2_208_988_800_000_000
            let text = RFC3339.format(epochMicroseconds: micros)
            #expect(RFC3339.parse(text) == micros, "\(text)")
            let days = (micros >= 0 ? micros : micros - 86_399_999_999) / 86_400_000_000
            let (y, m, d) = RFC3339.civil(fromDays: days)
            #expect(RFC3339.days(fromCivil: y, m, d) == days)
        }
    }
}

/// A small seeded generator, so property tests are reproducible.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite struct ExpectedHostsTests {
    @Test func parsesOneNameALineWithComments() {
        let text = "# fleet\r\nweb-1\n  web-2  # new\n\n#db-1\nWEB-1\ncache-3\t\n"
        #expect(ExpectedHosts.parse(text) == ["web-1", "web-2", "cache-3"])
    }

    @Test func missingComparesNamesCaseInsensitively() {
        #expect(
            ExpectedHosts.missing(expected: ["web-1", "Web-2", "db-1"], reported: ["WEB-2", "other"])
                == ["web-1", "db-1"])
        #expect(ExpectedHosts.missing(expected: [], reported: ["a"]).isEmpty)
    }
}
