public import OOMKit

extension SHA256 {
    /// HMAC-SHA256 (RFC 2104) of `message` under `key`: the webhook signature.
    public static func hmac(key: [UInt8], message: [UInt8]) -> [UInt8] {
        let blockSize = 64
        var k = key.count > blockSize ? digest(key) : key
        k += [UInt8](repeating: 0, count: blockSize - k.count)
        let inner = digest(k.map { $0 ^ 0x36 } + message)
        return digest(k.map { $0 ^ 0x5c } + inner)
    }

}
