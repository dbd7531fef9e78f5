import OOMKit
import Testing

@Suite struct ASCIITests {
    /// The named bytes are the characters they name.
    @Test func namesMatchCharacters() {
        #expect(ASCII.newline == UInt8(ascii: "\n"))
        #expect(ASCII.tab == UInt8(ascii: "\t"))
        #expect(ASCII.space == UInt8(ascii: " "))
        #expect(ASCII.colon == UInt8(ascii: ":"))
        #expect(ASCII.minus == UInt8(ascii: "-"))
        #expect(ASCII.zero == UInt8(ascii: "0"))
        #expect(ASCII.nine == UInt8(ascii: "9"))
        #expect(ASCII.backslash == UInt8(ascii: "\\"))
        #expect(ASCII.openBracket == UInt8(ascii: "["))
        #expect(ASCII.closeBrace == UInt8(ascii: "}"))
    }

    @Test(arguments: [
        ("123 rest", Int.max, Int64(123), 3),
        ("0", Int.max, 0, 1),
        ("12345", 2, 12, 2),
        ("007x", Int.max, 7, 3),
        // Too big: saturates instead of trapping (kernel sentinels, hostile input).
        ("99999999999999999999999", Int.max, Int64.max, 23),
    ])
    func digits(_ text: String, _ maxDigits: Int, _ value: Int64, _ consumed: Int) {
        let bytes = Array(text.utf8)[...]
        var i = bytes.startIndex
        #expect(ASCII.digits(bytes, &i, maxDigits: maxDigits) == value)
        #expect(i == consumed)
    }

    @Test func noDigitLeavesIndex() {
        let bytes = Array("-12".utf8)[...]
        var i = bytes.startIndex
        #expect(ASCII.digits(bytes, &i) == nil)
        #expect(i == 0)
        let u = "42abc".utf8
        var j = u.startIndex
        #expect(ASCII.digits(u, &j, as: UInt8.self) == 42)
        #expect(ASCII.digits(Array("999".utf8), &i, as: UInt8.self) == UInt8.max)
    }

    @Test(arguments: [
        ("5", Int64(500_000)), ("123456", 123_456), ("1234567899", 123_456), ("000001", 1),
    ])
    func fractionMicros(_ text: String, _ micros: Int64) {
        let bytes = Array(text.utf8)
        var i = 0
        #expect(ASCII.fractionMicros(bytes, &i) == micros)
        #expect(i == bytes.count)
    }

    @Test func procMapsLines() {
        let text = """
            55d0c1a00000-55d0c1c00000 r-xp 00001000 08:01 1234   /usr/bin/oomwatch-agent
            7f0000000000-7f0000021000 rw-p 00000000 00:00 0 
            7f1000000000-7f1000002000 r--p 00000000 08:01 99     /usr/lib/with space.so
            7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0      [stack]
            garbage
            """
        let maps = ProcMaps.parse(ArraySlice(text.utf8))
        #expect(maps.count == 4)
        #expect(
            maps[0]
                == MemoryMapping(
                    start: 0x55d0_c1a0_0000, end: 0x55d0_c1c0_0000, permissions: "r-xp", path: "/usr/bin/oomwatch-agent"
                ))
        #expect(maps[0].isReadOnlyFile)
        #expect(maps[1].path == "" && !maps[1].isReadOnlyFile)
        #expect(maps[2].path == "/usr/lib/with space.so" && maps[2].isReadOnlyFile)
        #expect(maps[3].path == "[stack]" && !maps[3].isReadOnlyFile)
        #expect(!maps[0].isWritablePrivateFile && !maps[1].isWritablePrivateFile && !maps[3].isWritablePrivateFile)
        let data = ProcMaps.parse(
            ArraySlice(
                "55d0c1c00000-55d0c1d00000 rw-p 00201000 08:01 1234 /usr/bin/oomwatch-agent\n7f2000000000-7f2000001000 rw-s 00000000 08:01 7 /dev/shm/x\n"
                    .utf8))
        #expect(data[0].isWritablePrivateFile && !data[0].isReadOnlyFile)
        #expect(!data[1].isWritablePrivateFile, "a shared mapping's writes go to its file")
    }
}
