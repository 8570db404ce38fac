// The artifact's sha256 as the toolkit computes it (toolkit/export/manifest.py tree_sha256), on the phone.
//
// The app hashes the model it is about to run and refuses one that does not match its manifest, and the
// result record carries that hash, so the toolkit can tell the phone measured exactly its local artifact.
// A file hashes its bytes; a directory (.mlpackage) hashes "relative/path\0<file sha256>\n" for every file,
// sorted by path components as Python sorts Paths. The digest is CryptoKit's where it exists (the phone: fast
// enough to hash a 17 MB model in a debug build); elsewhere (Linux, where `swift test` checks the tree format
// against Python's hashlib) it is the FIPS 180-4 algorithm written out below.
import Foundation
#if canImport(CryptoKit)
import CryptoKit
#endif

/// SHA-256 as lowercase hex, fed in pieces.
public struct SHA256 {
    #if canImport(CryptoKit)
    private var inner = CryptoKit.SHA256()

    public init() {}

    public mutating func update<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        if let data = bytes as? Data { inner.update(data: data) } else { inner.update(data: Array(bytes)) }
    }

    public mutating func finalize() -> String {
        inner.finalize().map { String(format: "%02x", $0) }.joined()
    }
    #else
    private var digest = PortableSHA256()

    public init() {}

    public mutating func update<C: Collection>(_ bytes: C) where C.Element == UInt8 { digest.update(bytes) }

    public mutating func finalize() -> String { digest.finalize() }
    #endif

    public static func hex<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        var h = SHA256()
        h.update(bytes)
        return h.finalize()
    }
}

/// FIPS 180-4 SHA-256 in plain Swift, for platforms without CryptoKit.
struct PortableSHA256 {
    private var state: [UInt32] = [
        0x6A09_E667, 0xBB67_AE85, 0x3C6E_F372, 0xA54F_F53A, 0x510E_527F, 0x9B05_688C, 0x1F83_D9AB, 0x5BE0_CD19,
    ]
    private var pending: [UInt8] = []
    private var length: UInt64 = 0

    mutating func update<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        length &+= UInt64(bytes.count)
        pending.append(contentsOf: bytes)
        let whole = pending.count / 64 * 64
        guard whole > 0 else { return }
        do {
            let blocks = pending  // shares storage: compressing reads it while `state` changes
            blocks.withUnsafeBufferPointer { buffer in
                withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 64) { schedule in
                    for start in stride(from: 0, to: whole, by: 64) {
                        PortableSHA256.compress(&state, buffer, at: start, schedule: schedule)
                    }
                }
            }
        }
        pending.removeFirst(whole)
    }

    mutating func finalize() -> String {
        let bits = length &* 8
        var tail: [UInt8] = [0x80]
        while (pending.count + tail.count) % 64 != 56 { tail.append(0) }
        for shift in stride(from: 56, through: 0, by: -8) { tail.append(UInt8(truncatingIfNeeded: bits >> UInt64(shift))) }
        length &-= UInt64(tail.count)  // padding is not message
        update(tail)
        return state.map { word in
            let hex = String(word, radix: 16)
            return String(repeating: "0", count: 8 - hex.count) + hex
        }.joined()
    }

    private static let k: [UInt32] = [
        0x428A_2F98, 0x7137_4491, 0xB5C0_FBCF, 0xE9B5_DBA5, 0x3956_C25B, 0x59F1_11F1, 0x923F_82A4, 0xAB1C_5ED5,
        0xD807_AA98, 0x1283_5B01, 0x2431_85BE, 0x550C_7DC3, 0x72BE_5D74, 0x80DE_B1FE, 0x9BDC_06A7, 0xC19B_F174,
        0xE49B_69C1, 0xEFBE_4786, 0x0FC1_9DC6, 0x240C_A1CC, 0x2DE9_2C6F, 0x4A74_84AA, 0x5CB0_A9DC, 0x76F9_88DA,
        0x983E_5152, 0xA831_C66D, 0xB003_27C8, 0xBF59_7FC7, 0xC6E0_0BF3, 0xD5A7_9147, 0x06CA_6351, 0x1429_2967,
        0x27B7_0A85, 0x2E1B_2138, 0x4D2C_6DFC, 0x5338_0D13, 0x650A_7354, 0x766A_0ABB, 0x81C2_C92E, 0x9272_2C85,
        0xA2BF_E8A1, 0xA81A_664B, 0xC24B_8B70, 0xC76C_51A3, 0xD192_E819, 0xD699_0624, 0xF40E_3585, 0x106A_A070,
        0x19A4_C116, 0x1E37_6C08, 0x2748_774C, 0x34B0_BCB5, 0x391C_0CB3, 0x4ED8_AA4A, 0x5B9C_CA4F, 0x682E_6FF3,
        0x748F_82EE, 0x78A5_636F, 0x84C8_7814, 0x8CC7_0208, 0x90BE_FFFA, 0xA450_6CEB, 0xBEF9_A3F7, 0xC671_78F2,
    ]

    private static func compress(_ state: inout [UInt32], _ block: UnsafeBufferPointer<UInt8>, at start: Int,
                                 schedule w: UnsafeMutableBufferPointer<UInt32>) {
        @inline(__always) func rotr(_ x: UInt32, _ n: UInt32) -> UInt32 { x >> n | x << (32 - n) }
        for t in 0 ..< 16 {
            let i = start + t * 4
            w[t] = UInt32(block[i]) << 24 | UInt32(block[i + 1]) << 16 | UInt32(block[i + 2]) << 8 | UInt32(block[i + 3])
        }
        for t in 16 ..< 64 {
            let s0 = rotr(w[t - 15], 7) ^ rotr(w[t - 15], 18) ^ (w[t - 15] >> 3)
            let s1 = rotr(w[t - 2], 17) ^ rotr(w[t - 2], 19) ^ (w[t - 2] >> 10)
            w[t] = w[t - 16] &+ s0 &+ w[t - 7] &+ s1
        }
        var (a, b, c, d, e, f, g, h) = (state[0], state[1], state[2], state[3], state[4], state[5], state[6], state[7])
        for t in 0 ..< 64 {
            let s1 = rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)
            let t1 = h &+ s1 &+ ((e & f) ^ (~e & g)) &+ k[t] &+ w[t]
            let s0 = rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)
            let t2 = s0 &+ ((a & b) ^ (a & c) ^ (b & c))
            (h, g, f, e, d, c, b, a) = (g, f, e, d &+ t1, c, b, a, t1 &+ t2)
        }
        state[0] &+= a; state[1] &+= b; state[2] &+= c; state[3] &+= d
        state[4] &+= e; state[5] &+= f; state[6] &+= g; state[7] &+= h
    }
}

public enum ArtifactHash {
    /// sha256 of a file's bytes, read in 1 MiB chunks.
    public static func file(_ url: URL) throws -> String {
        let handle = try FileHandle(forReadingFrom: url)
        defer { try? handle.close() }
        var h = SHA256()
        while true {
            let chunk = handle.readData(ofLength: 1 << 20)
            if chunk.isEmpty { break }
            h.update(chunk)
        }
        return h.finalize()
    }

    /// The artifact's sha256: its bytes for a file, the toolkit's tree hash for a directory (.mlpackage).
    public static func artifact(_ url: URL) throws -> String {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            throw ContractError("\(url.lastPathComponent) does not exist")
        }
        guard isDirectory.boolValue else { return try file(url) }
        var h = SHA256()
        for relative in try filesBelow(url) {
            let digest = try file(url.appendingPathComponent(relative.joined(separator: "/")))
            h.update(Array("\(relative.joined(separator: "/"))\u{0}\(digest)\n".utf8))
        }
        return h.finalize()
    }

    /// Every regular file below `root` as path components, in Python's Path order (component by component,
    /// each compared by code points).
    static func filesBelow(_ root: URL) throws -> [[String]] {
        var found: [[String]] = []
        func walk(_ dir: URL, _ prefix: [String]) throws {
            for name in try FileManager.default.contentsOfDirectory(atPath: dir.path) {
                let url = dir.appendingPathComponent(name)
                var isDirectory: ObjCBool = false
                guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else { continue }
                if isDirectory.boolValue { try walk(url, prefix + [name]) } else { found.append(prefix + [name]) }
            }
        }
        try walk(root, [])
        return found.sorted { a, b in
            for (x, y) in zip(a, b) where x != y { return Array(x.unicodeScalars.map(\.value)).lexicographicallyPrecedes(y.unicodeScalars.map(\.value)) }
            return a.count < b.count
        }
    }
}
