/// A set of (vid, tpid) keys as bitmaps: the checker updates its sets on nearly every
/// event, and a hashed Set costs more than the rest of the checker together. C-tags and
/// S-tags get a 4096-bit map each; other TPIDs (never seen from 8021q) fall back to a Set.
public struct VlanKeySet: Sequence, Sendable, Equatable {
    // Visible to other modules' inlined `contains` (the checker asks on every snapshot).
    @usableFromInline internal var ctag = [UInt64](repeating: 0, count: 64)
    @usableFromInline internal var stag = [UInt64](repeating: 0, count: 64)
    @usableFromInline internal var other = Set<VlanKey>()
    public private(set) var count = 0

    public init() {}

    public init<S: Sequence>(_ keys: S) where S.Element == VlanKey {
        for k in keys { insert(k) }
    }

    public var isEmpty: Bool { count == 0 }

    @inlinable @inline(__always)
    public func contains(_ k: VlanKey) -> Bool {
        let w = Int(k.vid >> 6), b = UInt64(1) << UInt64(k.vid & 63)
        switch k.tpid {
        case VlanKey.ctag: return ctag[w] & b != 0
        case VlanKey.stag: return stag[w] & b != 0
        default: return other.contains(k)
        }
    }

    @inline(__always)
    public mutating func insert(_ k: VlanKey) {
        let w = Int(k.vid >> 6), b = UInt64(1) << UInt64(k.vid & 63)
        switch k.tpid {
        case VlanKey.ctag: if ctag[w] & b == 0 { ctag[w] |= b; count += 1 }
        case VlanKey.stag: if stag[w] & b == 0 { stag[w] |= b; count += 1 }
        default: if other.insert(k).inserted { count += 1 }
        }
    }

    @inline(__always)
    public mutating func remove(_ k: VlanKey) {
        guard count > 0 else { return }
        let w = Int(k.vid >> 6), b = UInt64(1) << UInt64(k.vid & 63)
        switch k.tpid {
        case VlanKey.ctag: if ctag[w] & b != 0 { ctag[w] &= ~b; count -= 1 }
        case VlanKey.stag: if stag[w] & b != 0 { stag[w] &= ~b; count -= 1 }
        default: if other.remove(k) != nil { count -= 1 }
        }
    }

    public mutating func removeAll() {
        guard count > 0 else { return }
        for i in 0..<64 { ctag[i] = 0; stag[i] = 0 }
        other.removeAll()
        count = 0
    }

    /// Keeps only the members for which `keep` is true.
    public mutating func removeAll(where drop: (VlanKey) -> Bool) {
        guard count > 0 else { return }
        for k in Array(self) where drop(k) { remove(k) }
    }

    /// Members in (tpid, vid) order: C-tags, then S-tags, then the rest.
    public func makeIterator() -> AnyIterator<VlanKey> {
        var out: [VlanKey] = []
        out.reserveCapacity(count)
        for (map, tpid) in [(ctag, VlanKey.ctag), (stag, VlanKey.stag)] {
            for w in 0..<64 where map[w] != 0 {
                var bits = map[w]
                while bits != 0 {
                    let b = bits.trailingZeroBitCount
                    out.append(VlanKey(vid: UInt16(w * 64 + b), tpid: tpid))
                    bits &= bits - 1
                }
            }
        }
        out.append(contentsOf: other.sorted())
        return AnyIterator(out.makeIterator())
    }
}
