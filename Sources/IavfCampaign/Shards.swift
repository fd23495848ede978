import IavfSystem

/// `stress --seeds A-B --shard I/N`: a deterministic share of a seed range, so N machines (or
/// CI jobs) each run theirs and `merge` puts the results back together. Seed s of A...B
/// belongs to shard (s - A) mod N + 1: shares are disjoint, cover the range, and differ in
/// size by at most one.
public struct SeedRange: Sendable, Equatable, Codable, CustomStringConvertible {
    public var first: UInt64
    public var last: UInt64

    public static let maxSeeds: UInt64 = 100_000

    public init(first: UInt64, last: UInt64) {
        self.first = first
        self.last = last
    }

    /// "A-B" (inclusive) or a single seed "A".
    public static func parse(_ text: String) throws -> SeedRange {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        guard (1...2).contains(parts.count), let a = UInt64(parts[0]), let b = UInt64(parts.last!) else {
            throw BadInput("--seeds '\(text)': give a range A-B of seeds (e.g. 1-500) or one seed")
        }
        guard a <= b else { throw BadInput("--seeds '\(text)': the range is empty (\(a) > \(b))") }
        guard b - a < maxSeeds else { throw BadInput("--seeds '\(text)': at most \(maxSeeds) seeds per run") }
        return SeedRange(first: a, last: b)
    }

    public var description: String { first == last ? "\(first)" : "\(first)-\(last)" }
    public var count: Int { Int(last - first + 1) }
}

public struct Shard: Sendable, Equatable, Codable, CustomStringConvertible {
    /// 1-based.
    public var index: Int
    public var count: Int

    public static let whole = Shard(index: 1, count: 1)

    public init(index: Int, count: Int) {
        self.index = index
        self.count = count
    }

    /// "I/N" with 1 <= I <= N.
    public static func parse(_ text: String) throws -> Shard {
        let parts = text.split(separator: "/").map { $0.trimmingCharacters(in: .whitespaces) }
        guard parts.count == 2, let i = Int(parts[0]), let n = Int(parts[1]), n >= 1, (1...n).contains(i) else {
            throw BadInput("--shard '\(text)': give I/N with 1 <= I <= N (e.g. 2/3 for the second of three machines)")
        }
        return Shard(index: i, count: n)
    }

    public var description: String { "\(index)/\(count)" }

    /// This shard's seeds of `range`, in increasing order.
    public func seeds(of range: SeedRange) -> [UInt64] {
        stride(from: range.first + UInt64(index - 1), through: range.last, by: count).map { $0 }
    }
}
